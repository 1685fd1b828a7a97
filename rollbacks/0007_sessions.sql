DROP TABLE sessions.sessions;
