DROP INDEX api_tokens_user_live_name;
