-- Embedding spaces that coexist: one chunk set per document, shared by every embedding model, and a stored default
-- space per tenant.
--
-- 1. `tenants.embedding_model_id`: the space the tenant's questions are answered from. NULL (every tenant before
--    this migration) means "the configured embedding model", as before. `unity-ai reindex --model NAME` sets it,
--    and only once every chunk of the tenant has a vector of NAME, so questions never meet a half-built space.
--    A model row is only deleted by `reindex --drop`, which refuses a tenant's default; SET NULL all the same.
-- 2. `chunks.embedding_context`: the heading line embedded before the chunk's text (title, headings, tags), so a
--    space can be built from the stored chunks without reading their sources again. NULL for chunks stored before
--    this migration: reindex then embeds them under their title and heading path (what the line held, tags aside);
--    the chunker fingerprint changes with this release, so the next ingest re-chunks them and stores the line.
--
-- The HNSW index of each model is created by ingest or reindex (CREATE INDEX CONCURRENTLY), never by a query.

ALTER TABLE tenants
    ADD COLUMN embedding_model_id integer REFERENCES embedding_models (id) ON DELETE SET NULL;

ALTER TABLE chunks
    ADD COLUMN embedding_context text;
