DROP TABLE agents.agents;
