import numpy as np

from p2p_eval.cache import ItemCache, cache_path_for, file_digest, namespace


def test_round_trip_and_namespaces_are_separate(tmp_path):
    path = cache_path_for(tmp_path)
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    with ItemCache(path, namespace("fcn", segmenter="abc")) as cache:
        cache.put_many({"d1": a})
    with ItemCache(path, namespace("fcn", segmenter="abc")) as cache:
        got = cache.get_many(["d1", "d2"])
    assert list(got) == ["d1"] and np.array_equal(got["d1"], a) and got["d1"].dtype == np.int64
    with ItemCache(path, namespace("fcn", segmenter="other")) as cache:
        assert cache.get_many(["d1"]) == {}


def test_digest_follows_content(tmp_path):
    (tmp_path / "x").write_bytes(b"one")
    (tmp_path / "y").write_bytes(b"one")
    assert file_digest(tmp_path / "x") == file_digest(tmp_path / "y")
    (tmp_path / "y").write_bytes(b"two")
    assert file_digest(tmp_path / "x") != file_digest(tmp_path / "y")
