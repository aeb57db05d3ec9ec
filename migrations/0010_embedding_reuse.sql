-- Hash-keyed reuse of vectors: each vector remembers the SHA-256 of the exact text it was made from (a chunk's
-- heading context and text), so that ingest looks a text up by (tenant, model, hash) and copies the vector instead
-- of embedding the same text again, whatever its path. Vectors stored before this migration have no hash and are
-- simply not reused.
--
-- Reuse stays inside a tenant: a vector says nothing by itself, but whether one was found would (an ingest's
-- chunks_embedded would tell one tenant that another holds a text it guessed), so the lookup is by tenant too.

ALTER TABLE chunk_embeddings
    ADD COLUMN text_sha256 bytea CHECK (text_sha256 IS NULL OR length(text_sha256) = 32);

CREATE INDEX chunk_embeddings_reuse_idx ON chunk_embeddings (tenant_id, model_id, text_sha256)
    WHERE text_sha256 IS NOT NULL;
