-- docker-compose.yml: the lake's catalog beside Dagster's database
CREATE DATABASE lake OWNER scoreboard;
