DROP TABLE container_disk_use;
DROP TABLE host_reports;
