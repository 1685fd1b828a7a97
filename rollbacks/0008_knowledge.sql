DROP TABLE knowledge.chunks;
DROP TABLE knowledge.documents;
