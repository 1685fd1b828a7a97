DROP TABLE agents.state;
