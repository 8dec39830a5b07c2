"""redis-py against `vecstore serve`, unmodified: run by the test
`redis_py_works_unmodified` (tests/server.rs) as `python redis_py.py PORT`.

Both protocols: redis-py's default (it asks for RESP3 with HELLO 3, and
its vector-set parsers expect RESP3's maps) and protocol=2. Warnings are
errors, so a fallback from RESP3 to RESP2 fails the run."""

import struct
import sys
import warnings

import redis

warnings.simplefilter("error")
port = int(sys.argv[1])

for protocol in (None, 2):
    options = {} if protocol is None else {"protocol": protocol}
    r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, **options)
    key = f"users{protocol}"
    assert r.ping() is True
    vs = r.vset()
    assert vs.vadd(key, [1.0, 0.0, 0.0], "alice", attributes={"age": 31, "city": "Paris"}) == 1
    assert vs.vadd(key, [0.9, 0.1, 0.0], "bob", attributes={"age": 25, "city": "Paris"}) == 1
    # A vector as redis-py's own examples send it: an FP32 blob.
    assert r.execute_command("VADD", key, "FP32", struct.pack("<3f", 0.0, 1.0, 0.0), "carol") == 1
    assert vs.vcard(key) == 3 and vs.vdim(key) == 3
    scores = vs.vsim(key, "alice", with_scores=True, count=3)
    assert list(scores) == ["alice", "bob", "carol"], scores
    assert scores["alice"] == 1.0 and abs(scores["carol"] - 0.5) < 1e-9, scores
    both = vs.vsim(key, [1.0, 0.0, 0.0], with_scores=True, with_attribs=True, count=1)
    assert both == {"alice": {"score": 1.0, "attributes": {"age": 31, "city": "Paris"}}}, both
    assert vs.vsim(key, [1.0, 0.0, 0.0], count=3, filter=".age > 30") == ["alice"]
    emb = vs.vemb(key, "bob")
    assert [round(x, 6) for x in emb] == [0.9, 0.1, 0.0], emb
    assert vs.vgetattr(key, "alice") == {"age": 31, "city": "Paris"}
    assert vs.vgetattr(key, "carol") is None
    assert vs.vsetattr(key, "bob", {"age": 40}) == 1
    info = vs.vinfo(key)
    assert info["vector-dim"] == 3 and info["size"] == 3, info
    assert vs.vrem(key, "carol") == 1 and vs.vcard(key) == 2
    try:
        vs.vadd(key, [1.0, 0.0], "dave")
        raise AssertionError("a 2-d vector was added to a 3-d set")
    except redis.ResponseError as e:
        assert "dimension mismatch" in str(e), e
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.execute_command("VADD", f"big{protocol}", "VALUES", 2, 1, i + 1, f"e{i}")
    assert sum(pipe.execute()) == 100
    assert vs.vcard(f"big{protocol}") == 100
    r.close()
print("redis-py", redis.__version__, "ok with RESP3 and RESP2")
