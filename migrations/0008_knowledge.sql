-- Knowledge: documents split into chunks, searched with PostgreSQL full-text search. The
-- tsvector is a generated column, so it can never disagree with the text it indexes.

CREATE TABLE knowledge.documents (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	title public.non_empty_text NOT NULL,
	source_uri text,
	metadata jsonb NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	row_version bigint NOT NULL DEFAULT 1,
	CONSTRAINT documents_metadata_is_object CHECK (jsonb_typeof(metadata) = 'object')
);
COMMENT ON TABLE knowledge.documents IS 'Source documents; their text lives in knowledge.chunks';

CREATE UNIQUE INDEX documents_source_uri_key ON knowledge.documents (source_uri) WHERE source_uri IS NOT NULL;
CREATE INDEX documents_metadata_gin ON knowledge.documents USING gin (metadata jsonb_path_ops);

CREATE TRIGGER documents_touch_row_version BEFORE UPDATE ON knowledge.documents
	FOR EACH ROW EXECUTE FUNCTION public.touch_row_version();

CREATE TABLE knowledge.chunks (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	document_id uuid NOT NULL REFERENCES knowledge.documents (id) ON DELETE CASCADE,
	ordinal integer NOT NULL,
	content public.non_empty_text NOT NULL,
	metadata jsonb NOT NULL DEFAULT '{}',
	-- The heading (from metadata) weighs more than the body when ranking.
	search tsvector GENERATED ALWAYS AS (
		setweight(to_tsvector('english', coalesce(metadata ->> 'heading', '')), 'A')
		|| setweight(to_tsvector('english', content), 'B')
	) STORED,
	created_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT chunks_document_ordinal_key UNIQUE (document_id, ordinal),
	CONSTRAINT chunks_ordinal_not_negative CHECK (ordinal >= 0),
	CONSTRAINT chunks_metadata_is_object CHECK (jsonb_typeof(metadata) = 'object')
);
COMMENT ON TABLE knowledge.chunks IS 'Searchable pieces of documents; search is generated from heading and content';

CREATE INDEX chunks_search_gin ON knowledge.chunks USING gin (search);
