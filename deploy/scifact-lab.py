#!/usr/bin/env python3
"""Offline SciFact retrieval lab: the appliance's BM25, minilm vectors and convex fusion recomputed in numpy from a
database `unity-ai evaluate` filled, so that ranking ideas can be scored on the train split in seconds instead of
one `evaluate` run each. It reproduces `evaluate` exactly (BM25 0.6935, hybrid convex 0.4 0.7382 on train with the
word-piece chunks) before it scores anything else. See docs/benchmarks.md, "Ranking ideas tried offline".

    deploy/scifact-lab.py dump DIR --database-url URL [--binary .build/release/unity-ai] [--windows]
    deploy/scifact-lab.py run DIR [--split train|test] [--windows]

`dump` copies the tenant's chunks, postings and minilm vectors with `psql` (from $UNITY_AI_PG_BIN or PATH), the
queries' lexemes (`to_tsvector('english', …)`, as the BM25 statement parses them) and the queries' vectors
(`unity-ai embed --model minilm`). `--windows` also embeds every abstract's two-sentence windows (title as the
context line; ≈ 43,000 texts, ≈ 25 minutes on one core). Needs numpy. Choose on train; run test once at the end.
"""
import argparse, collections, json, math, os, re, subprocess, sys

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'data', 'scifact')


def psql(url, script):
    binary = os.path.join(os.environ.get('UNITY_AI_PG_BIN', ''), 'psql') if os.environ.get('UNITY_AI_PG_BIN') else 'psql'
    subprocess.run([binary, '-X', '-q', '-v', 'ON_ERROR_STOP=1', url], input=script, text=True, check=True)


def embed(binary, texts):
    vectors = []
    for start in range(0, len(texts), 200):
        out = subprocess.run([binary, 'embed', '--model', 'minilm', '--json', *texts[start:start + 200]],
                             capture_output=True, text=True, check=True)
        vectors += json.loads(out.stdout)
    return np.array(vectors, np.float32)


def two_sentence_windows(document):
    sentences = [s for s in re.split(r'(?<=[.!?])\s+', document['text'].strip()) if s]
    if len(sentences) <= 2:
        return [' '.join(sentences)]
    return [' '.join(sentences[i:i + 2]) for i in range(len(sentences) - 1)]


def dump(args):
    os.makedirs(args.dir, exist_ok=True)
    queries = [json.loads(line) for line in open(os.path.join(args.data, 'queries.jsonl'))]
    with open(os.path.join(args.dir, 'queries.tsv'), 'w') as f:
        for q in queries:
            f.write(q['_id'] + '\t' + re.sub(r'[\t\n\r]', ' ', q['text']).replace('\\', '\\\\') + '\n')
    json.dump([q['_id'] for q in queries], open(os.path.join(args.dir, 'qids.json'), 'w'))
    tenant = f"(SELECT id FROM tenants WHERE name = '{args.tenant}')"
    os.chdir(args.dir)
    psql(args.database_url, f"""
\\copy (SELECT c.id, c.document_id, c.ordinal, d.metadata->>'display_path' FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.tenant_id = {tenant} ORDER BY c.id) TO 'chunks.tsv'
\\copy (SELECT term, chunk_id, body_tf, heading_tf FROM lexical_postings WHERE tenant_id = {tenant}) TO 'postings.tsv'
\\copy (SELECT chunk_id, body_length, heading_length FROM lexical_chunks WHERE tenant_id = {tenant}) TO 'lexchunks.tsv'
\\copy (SELECT e.chunk_id, e.embedding::text FROM chunk_embeddings e JOIN embedding_models m ON m.id = e.model_id WHERE m.name = 'minilm' AND e.tenant_id = {tenant}) TO 'emb.tsv'
CREATE TEMP TABLE q (id text, t text);
\\copy q FROM 'queries.tsv'
\\copy (SELECT id, array_to_json(tsvector_to_array(to_tsvector('english', t))) FROM q) TO 'qlex.tsv'
""")
    np.save('qvec.npy', embed(args.binary, [q['text'] for q in queries]))
    if args.windows:
        corpus = [json.loads(line) for line in open(os.path.join(args.data, 'corpus.jsonl'))]
        ids, texts = [], []
        for d in corpus:
            for window in two_sentence_windows(d):
                ids.append(d['_id']); texts.append('# ' + d['title'] + '\n\n' + window)
        np.save('sent_vec.npy', embed(args.binary, texts))
        json.dump(ids, open('sent_ids.json', 'w'))


class Lab:
    """The dumped tenant: chunks (index = position in chunk-id order), their documents, postings and vectors."""

    def __init__(self, directory, data, split, windows):
        path = lambda name: os.path.join(directory, name)
        rows = [line.rstrip('\n').split('\t') for line in open(path('chunks.tsv'))]
        self.chunk_ids = np.array([int(r[0]) for r in rows])
        index_of = {c: i for i, c in enumerate(self.chunk_ids)}
        self.docs = sorted({r[3] for r in rows})
        doc_index = {d: i for i, d in enumerate(self.docs)}
        self.chunk_doc = np.array([doc_index[r[3]] for r in rows])
        self.nc, self.nd = len(rows), len(self.docs)
        self.body_length, self.heading_length = np.zeros(self.nc), np.zeros(self.nc)
        for line in open(path('lexchunks.tsv')):
            c, body, heading = line.split('\t')
            self.body_length[index_of[int(c)]], self.heading_length[index_of[int(c)]] = int(body), int(heading)
        postings = collections.defaultdict(lambda: ([], [], []))
        for line in open(path('postings.tsv')):
            term, c, body_tf, heading_tf = line.rstrip('\n').split('\t')[:4]
            p = postings[term]; p[0].append(index_of[int(c)]); p[1].append(int(body_tf)); p[2].append(int(heading_tf))
        self.postings = {t: (np.array(a), np.array(b, float), np.array(h, float)) for t, (a, b, h) in postings.items()}
        vectors = np.zeros((self.nc, 384), np.float32)
        for line in open(path('emb.tsv')):
            c, v = line.rstrip('\n').split('\t')
            vectors[index_of[int(c)]] = json.loads(v)
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        qids = json.load(open(path('qids.json')))
        self.query_vectors = dict(zip(qids, np.load(path('qvec.npy'))))
        self.lexemes = {}
        for line in open(path('qlex.tsv')):
            q, lexemes = line.rstrip('\n').split('\t', 1)
            self.lexemes[q] = json.loads(lexemes.replace('\\\\', '\\'))
        self.judgements = collections.defaultdict(dict)
        for line in list(open(os.path.join(data, 'qrels', split + '.tsv')))[1:]:
            fields = line.split()
            if len(fields) >= 3: self.judgements[fields[0]][fields[1]] = int(fields[2])
        self.queries = sorted(self.judgements)
        self.windows = None
        if windows:
            wv = np.load(path('sent_vec.npy')); wv /= np.linalg.norm(wv, axis=1, keepdims=True)
            wdoc = np.array([doc_index.get(d, -1) for d in json.load(open(path('sent_ids.json')))])
            self.windows, self.window_doc = wv[wdoc >= 0], wdoc[wdoc >= 0]
        self.cache = {}

    # Rankings ------------------------------------------------------------------------------------------------
    def bm25(self, q, k1=0.9, b=0.4, heading_weight=2.0):
        """Every chunk's BM25 score, as Sources/Storage/ChunkSearch+BM25.swift computes it (0: no match)."""
        key = ('bm25', q, k1, b, heading_weight)
        if key not in self.cache:
            n = self.nc
            per_length = k1 * b * n / (self.body_length.sum() + heading_weight * self.heading_length.sum())
            scores = np.zeros(n)
            for term in set(self.lexemes[q]):
                if term not in self.postings: continue
                chunks, body_tf, heading_tf = self.postings[term]
                weight = math.log(1 + (n - len(chunks) + 0.5) / (len(chunks) + 0.5)) * (k1 + 1)
                tf = body_tf + heading_weight * heading_tf
                length = self.body_length[chunks] + heading_weight * self.heading_length[chunks]
                scores[chunks] += np.where(tf > 0, weight * tf / (tf + k1 * (1 - b) + per_length * length), 0)
            self.cache[key] = scores
        return self.cache[key]

    def dense(self, q):
        """Every chunk's cosine similarity to the query (exact; the appliance's HNSW gives the same top 400 here)."""
        return self.vectors @ self.query_vectors[q]

    def window_dense(self, q):
        """Each document's best two-sentence-window cosine."""
        best = np.full(self.nd, -1.0); np.maximum.at(best, self.window_doc, self.windows @ self.query_vectors[q])
        return best

    def per_document_max(self, chunk_scores, floor=-1.0):
        best = np.full(self.nd, floor); np.maximum.at(best, self.chunk_doc, chunk_scores)
        return best

    # Fusion and metrics ----------------------------------------------------------------------------------------
    @staticmethod
    def top(scores, k, positive=False):
        """The k best indices, ties by index (chunk id order), as `ORDER BY score DESC, id LIMIT k`."""
        candidates = np.nonzero(scores > 0)[0] if positive else np.arange(len(scores))
        order = np.lexsort((candidates, -scores[candidates]))
        return candidates[order][:k]

    @staticmethod
    def min_max(values):
        low, high = values.min(), values.max()
        return (values - low) / (high - low) if high > low else np.ones_like(values)

    def chunk_convex(self, q, weight=0.4, depth=400, **bm25):
        """`Fusion.convex` over each ranking's top `depth` chunks, documents by their best fused chunk."""
        dense, lexical = self.dense(q), self.bm25(q, **bm25)
        d, l = self.top(dense, depth), self.top(lexical, depth, positive=True)
        fused = collections.defaultdict(float)
        for c, v in zip(d, self.min_max(dense[d])): fused[c] += weight * v
        if len(l):
            for c, v in zip(l, self.min_max(lexical[l])): fused[c] += (1 - weight) * v
        return self.documents(sorted(fused, key=lambda c: (-fused[c], c)))

    def documents(self, ranked_chunks, k=100):
        seen, out = set(), []
        for c in ranked_chunks:
            d = self.chunk_doc[c]
            if d not in seen:
                seen.add(d); out.append(d)
                if len(out) == k: break
        return out

    def document_convex(self, parts, depth=200):
        """Convex fusion of per-document score arrays: [(weight, scores)], each min-max scaled over its own top
        `depth` documents and clipped at 0 below it."""
        total = np.zeros(self.nd); union = set()
        for weight, scores in parts:
            top = np.argsort(-scores)[:depth]; union.update(top.tolist())
            low, high = scores[top].min(), scores[top].max()
            if high > low: total += weight * np.clip((scores - low) / (high - low), 0, None)
        union = np.array(sorted(union))
        return list(union[np.lexsort((union, -total[union]))][:100])

    def ndcg(self, q, ranked_docs, k=10):
        grades = self.judgements[q]
        dcg = sum(grades.get(self.docs[d], 0) / math.log2(r + 2) for r, d in enumerate(ranked_docs[:k]))
        ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
        idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
        return dcg / idcg if idcg else 0.0

    def score(self, ranker):
        return np.array([self.ndcg(q, ranker(q)) for q in self.queries])


def run(args):
    lab = Lab(args.dir, args.data, args.split, args.windows)
    chunk_bm25 = lambda q: lab.documents(lab.top(lab.bm25(q), 400, positive=True))
    variants = {
        'BM25 (k1 0.9, b 0.4, heading weight 2), chunks': chunk_bm25,
        'dense minilm, chunks': lambda q: lab.documents(lab.top(lab.dense(q), 400)),
        'hybrid convex 0.4, 400 chunks a ranking (evaluate)': lab.chunk_convex,
        'hybrid convex 0.4, 40 chunks a ranking (questions, topK <= 10)': lambda q: lab.chunk_convex(q, depth=40),
        'hybrid convex 0.4, 100 chunks a ranking': lambda q: lab.chunk_convex(q, depth=100),
        'hybrid convex 0.45, per-document max then fused': lambda q: lab.document_convex(
            [(0.45, lab.per_document_max(lab.dense(q))), (0.55, lab.per_document_max(lab.bm25(q), 0.0))]),
    }
    if args.windows:
        variants['dense minilm, two-sentence windows'] = lambda q: list(np.argsort(-lab.window_dense(q))[:100])
        variants['hybrid: windows 0.55 + chunk BM25 0.45 (per document)'] = lambda q: lab.document_convex(
            [(0.55, lab.window_dense(q)), (0.45, lab.per_document_max(lab.bm25(q), 0.0))])
        variants['hybrid: chunk dense 0.2 + windows 0.4 + chunk BM25 0.4'] = lambda q: lab.document_convex(
            [(0.2, lab.per_document_max(lab.dense(q))), (0.4, lab.window_dense(q)),
             (0.4, lab.per_document_max(lab.bm25(q), 0.0))])
    baseline = None
    print(f'{args.split}: {len(lab.queries)} queries, {lab.nc} chunks, {lab.nd} documents')
    for name, ranker in variants.items():
        per_query = lab.score(ranker)
        if baseline is None and name.startswith('hybrid convex 0.4, 400'): baseline = per_query
        line = f'{name:66s} nDCG@10 {per_query.mean():.4f}'
        if baseline is not None and per_query is not baseline and name.startswith('hybrid'):
            diff = per_query - baseline
            line += f'   vs evaluate {diff.mean():+.4f} ± {diff.std(ddof=1) / math.sqrt(len(diff)):.4f} (SE)'
        print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    d = commands.add_parser('dump'); d.add_argument('dir'); d.add_argument('--database-url', required=True)
    d.add_argument('--tenant', default='eval-scifact-minilm'); d.add_argument('--binary', default='.build/release/unity-ai')
    d.add_argument('--windows', action='store_true'); d.add_argument('--data', default=DATA)
    r = commands.add_parser('run'); r.add_argument('dir'); r.add_argument('--split', default='train', choices=['train', 'test'])
    r.add_argument('--windows', action='store_true'); r.add_argument('--data', default=DATA)
    args = parser.parse_args()
    dump(args) if args.command == 'dump' else run(args)


if __name__ == '__main__':
    sys.exit(main())
