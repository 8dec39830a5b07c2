"""Build and query hnswlib (the authors' C++ HNSW) on .fvecs files.

Run by `cargo xtask compare-hnswlib` inside a venv that has hnswlib and
numpy. It mirrors `hnsw-eval --json`: the same data, ground truth, k, m,
ef_construction, ef values and threads, and one JSON object per line with
the keys `ef`, `recall`, `qps` and `build_seconds`.

Queries are timed as one `knn_query` call on the whole batch with
`num_threads` threads: the C++ loop, with no Python overhead per query
(hnswlib's best case).
"""

import argparse
import json
import time

import hnswlib
import numpy as np


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        raise SystemExit(f"{path}: empty")
    dim = int(raw[0])
    rows = raw.reshape(-1, dim + 1)
    if not (rows[:, 0] == dim).all():
        raise SystemExit(f"{path}: vectors of different dimensions")
    return np.ascontiguousarray(rows[:, 1:].view(np.float32))


def read_ivecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    dim = int(raw[0])
    return raw.reshape(-1, dim + 1)[:, 1:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--truth", required=True)
    parser.add_argument("--metric", choices=["l2", "cosine", "ip"], default="l2")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--ef", default="10,20,40,80,160")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=100)
    args = parser.parse_args()

    base = read_fvecs(args.base)
    queries = read_fvecs(args.queries)
    truth = read_ivecs(args.truth)[:, : args.k]
    if len(truth) < len(queries):
        raise SystemExit(f"{len(truth)} truth lists for {len(queries)} queries")
    truth = truth[: len(queries)]

    index = hnswlib.Index(space=args.metric, dim=base.shape[1])
    index.init_index(
        max_elements=len(base),
        ef_construction=args.ef_construction,
        M=args.m,
        random_seed=args.seed,
    )
    index.set_num_threads(args.threads)
    started = time.perf_counter()
    index.add_items(base, np.arange(len(base)), num_threads=args.threads)
    build = time.perf_counter() - started

    for ef in (int(e) for e in args.ef.split(",")):
        index.set_ef(ef)
        started = time.perf_counter()
        labels, _ = index.knn_query(queries, k=args.k, num_threads=args.threads)
        wall = time.perf_counter() - started
        hits = sum(
            len(set(found.tolist()) & set(true.tolist()))
            for found, true in zip(labels, truth)
        )
        print(
            json.dumps(
                {
                    "ef": ef,
                    "recall": hits / truth.size,
                    "qps": len(queries) / wall,
                    "build_seconds": build,
                    "k": args.k,
                    "m": args.m,
                    "ef_construction": args.ef_construction,
                    "threads": args.threads,
                    "metric": args.metric,
                    "base": len(base),
                    "queries": len(queries),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
