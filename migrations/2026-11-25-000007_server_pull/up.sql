-- A server marked pull runs no distropanel agent: it fetches its vassals from /private itself.
-- Every other server is prepared by its agent, and /private serves it nothing.
ALTER TABLE servers ADD COLUMN pull BOOLEAN NOT NULL DEFAULT false;
