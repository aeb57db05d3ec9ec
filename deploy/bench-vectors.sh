#!/usr/bin/env bash
# Tenant-filtered vector search: N synthetic 384-dimensional vectors (clustered, seeded: see
# Sources/UnityAIBench/SyntheticVectors.swift) stored exactly like the appliance stores them (the migrations' tables,
# chunk_embeddings with its (model_id, tenant_id) btree and a halfvec HNSW expression index per model), one tenant
# holding 1 % of the rows and nine others the rest (VectorsLayout.swift). Measures the index build, then latency and
# recall@10 against exact search for the small tenant, today's settings against the chosen strategy.
#
# Usage: deploy/bench-vectors.sh load ROWS        create database bench_vectors_ROWS, load it, build the index
#        deploy/bench-vectors.sh measure ROWS [QUERIES]   (default 200 queries)
# Needs UNITY_AI_TEST_DATABASE_URL (a superuser connection, e.g. from /work/devsvc/NAME/env.sh) and UNITY_AI_PG_BIN.
# Build settings: maintenance_work_mem VECTORS_BUILD_MEMORY (default 1536MB: the 1M graph of halfvec(384) needs
# about 1.4 GB to be built in memory), max_parallel_maintenance_workers 2, m 16, ef_construction 64 (pgvector's
# defaults).
set -euo pipefail
cd "$(dirname "$0")/.."
command="${1:?usage: deploy/bench-vectors.sh load|measure ROWS [QUERIES]}"
rows="${2:?usage: deploy/bench-vectors.sh load|measure ROWS [QUERIES]}"
queries="${3:-200}"
base="${UNITY_AI_TEST_DATABASE_URL:?set UNITY_AI_TEST_DATABASE_URL to a superuser connection URL}"
psql="${UNITY_AI_PG_BIN:?set UNITY_AI_PG_BIN to the PostgreSQL bin directory}/psql"
database="bench_vectors_${rows}"
url=$(printf %s "$base" | sed "s|/postgres?|/${database}?|")
bench="${VECTORS_BENCH:-.build/release/unity-ai-bench}"
memory="${VECTORS_BUILD_MEMORY:-1536MB}"
if [ -z "${VECTORS_BENCH:-}" ]; then swift build -c release --product unity-ai-bench >&2; fi
now() { date +%s.%N; }

case "$command" in
load)
    "$psql" "$base" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database"
    for migration in migrations/*.sql; do "$psql" "$url" -q -v ON_ERROR_STOP=1 -1 -f "$migration" >/dev/null; done
    "$psql" "$url" -q -v ON_ERROR_STOP=1 <<SQL
ALTER TABLE chunk_embeddings SET (autovacuum_enabled = off);
INSERT INTO tenants (name) SELECT 'bench-t' || t FROM generate_series(0, 9) t;
INSERT INTO embedding_models (name, dimensions) VALUES ('bench-384', 384);
CREATE TEMP TABLE tenant_of AS SELECT t AS idx, (SELECT id FROM tenants WHERE name = 'bench-t' || t) AS id
    FROM generate_series(0, 9) t;
-- The layout rule of VectorsLayout.tenantIndex: documents of 100 chunks, every hundredth document the small tenant's.
INSERT INTO documents (id, tenant_id, source_uri, content_sha256) OVERRIDING SYSTEM VALUE
    SELECT j + 1, o.id, 'bench://doc/' || j, repeat('0', 64)
    FROM generate_series(0, ($rows - 1) / 100) j
    JOIN tenant_of o ON o.idx = CASE WHEN j % 100 = 0 THEN 0 ELSE 1 + j % 9 END;
INSERT INTO chunks (id, document_id, tenant_id, ordinal, text, token_count, char_start, char_end, search_text)
    OVERRIDING SYSTEM VALUE
    SELECT i + 1, d.id, d.tenant_id, i % 100, '', 0, 0, 0, ''::tsvector
    FROM generate_series(0, $rows - 1) i JOIN documents d ON d.id = i / 100 + 1;
SQL
    model=$("$psql" "$url" -Atq -c "SELECT id FROM embedding_models WHERE name = 'bench-384'")
    tenants=$("$psql" "$url" -Atq -c "SELECT string_agg(id::text, ',' ORDER BY name) FROM tenants WHERE name LIKE 'bench-t%'")
    start=$(now)
    "$bench" vectors rows "$rows" "$model" "$tenants" \
        | "$psql" "$url" -q -v ON_ERROR_STOP=1 -c "COPY chunk_embeddings (chunk_id, model_id, tenant_id, embedding) FROM STDIN"
    "$psql" "$url" -q -v ON_ERROR_STOP=1 -c "CREATE TABLE bench_queries (id integer PRIMARY KEY, embedding vector(384) NOT NULL)"
    "$bench" vectors queries "$rows" 1000 | "$psql" "$url" -q -v ON_ERROR_STOP=1 -c "COPY bench_queries FROM STDIN"
    loaded=$(now)
    "$psql" "$url" -q -v ON_ERROR_STOP=1 -c "VACUUM (ANALYZE) chunk_embeddings"
    vacuumed=$(now)
    "$psql" "$url" -q -v ON_ERROR_STOP=1 <<SQL
SET maintenance_work_mem = '$memory';
SET max_parallel_maintenance_workers = 2;
CREATE INDEX chunk_embeddings_hnsw_model_$model ON chunk_embeddings
    USING hnsw ((embedding::halfvec(384)) halfvec_cosine_ops) WITH (m = 16, ef_construction = 64)
    WHERE model_id = $model;
SQL
    built=$(now)
    size=$("$psql" "$url" -Atq -c "SELECT pg_size_pretty(pg_relation_size('chunk_embeddings_hnsw_model_$model')) || ' index, ' || pg_size_pretty(pg_relation_size('chunk_embeddings')) || ' table'")
    printf '{"rows": %d, "load_s": %.1f, "vacuum_s": %.1f, "hnsw_build_s": %.1f, "size": "%s", "load_average": "%s"}\n' \
        "$rows" "$(echo "$loaded - $start" | bc)" "$(echo "$vacuumed - $loaded" | bc)" "$(echo "$built - $vacuumed" | bc)" \
        "$size" "$(cut -d' ' -f1-3 /proc/loadavg)"
    ;;
measure)
    result=$("$bench" vectors measure "$url" --queries "$queries")
    echo "$result"
    python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print()
print(f"{r['rows']:,} vectors, {r['queries']} queries, load average {r['load_average']}; "
      f"the 1 % tenant's own index built in {r['tenant_index_build_s']} s, the policy's indexes in {r['policy_index_build_s']} s")
print()
print("| tenant | strategy | p50 | p99 | recall@10 | queries short of 10 |")
print("| --- | --- | --- | --- | --- | --- |")
for x in r["results"]:
    print(f"| {x['tenant']} | {x['strategy']} | {x['p50_ms']} ms | {x['p99_ms']} ms | {x['recall_at_10']:.3f} | {x['queries_short_of_10']} |")
PY
    ;;
*)
    echo "usage: deploy/bench-vectors.sh load|measure ROWS [QUERIES]" >&2
    exit 2
    ;;
esac
