"""The data-set check: declared files, checksum lists in the implementations' own formats
(md5sum, sha256sum, BERT's .chk and eval.md5), a cache of what was verified."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

from gp2bm.files.findings import CheckStatus
from gp2bm.node import datasets
from gp2bm.node.datasets import (
    VerifiedCache,
    article_md5s,
    check_datasets,
    check_mount,
    parse_list,
)
from gp2bm.spec.manifest import ChecksumList, Mount, RequiredFile, load_manifest

REPO = Path(__file__).resolve().parents[1]
NVIDIA = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "nvidia-v4.0"
PREP = NVIDIA / "bert" / "implementation" / "input_preprocessing"
STEP = "README.md, 'Steps to download and verify data'"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def imagenet(tmp_path: Path) -> Path:
    host = tmp_path / "imagenet"
    host.mkdir()
    for name in ("train.rec", "train.idx", "val.rec", "val.idx"):
        (host / name).write_bytes(name.encode())
    return host


def mount(host: Path, **kw) -> Mount:
    return Mount(host=str(host), container="/data", what="ImageNet", prepare=STEP, **kw)


FILES = [RequiredFile(n) for n in ("train.rec", "train.idx", "val.rec", "val.idx")]


def test_declared_files_present(tmp_path):
    [item] = check_mount("resnet", mount(imagenet(tmp_path), files=FILES), VerifiedCache())
    assert item.status == CheckStatus.PASS and "4 declared file(s) present" in item.detail


def test_missing_file_is_named_with_the_preparation_step(tmp_path):
    host = imagenet(tmp_path)
    (host / "val.idx").unlink()
    [item] = check_mount("resnet", mount(host, files=FILES), VerifiedCache())
    assert item.status == CheckStatus.FAIL and item.blocking
    assert item.detail == f"{host}: missing: val.idx"
    assert item.fix == f"{STEP} (into {host})"


def test_missing_folder(tmp_path):
    [item] = check_mount("resnet", mount(tmp_path / "nope", files=FILES), VerifiedCache())
    assert item.status == CheckStatus.FAIL and "does not exist" in item.detail and STEP in item.fix


def test_glob_must_match_its_count(tmp_path):
    host = tmp_path / "packed"
    host.mkdir()
    for i in range(3):
        (host / f"part_{i:05}").write_bytes(b"x")
    m = mount(host, files=[RequiredFile("part_*", count=4)])
    [item] = check_mount("bert", m, VerifiedCache())
    assert item.status == CheckStatus.FAIL and "part_* (3 of 4 files)" in item.detail
    (host / "part_00003").write_bytes(b"x")
    assert check_mount("bert", m, VerifiedCache())[0].status == CheckStatus.PASS


def test_inline_digests(tmp_path):
    host = tmp_path / "phase1"
    host.mkdir()
    (host / "bert_config.json").write_bytes(b"{}\n")
    good = RequiredFile("bert_config.json", md5=md5(b"{}\n"),
                        sha256=hashlib.sha256(b"{}\n").hexdigest())
    checked = check_mount("bert", mount(host, files=[good]), VerifiedCache())[0]
    assert checked.status == CheckStatus.PASS
    bad = RequiredFile("bert_config.json", md5="0" * 32)
    [item] = check_mount("bert", mount(host, files=[bad]), VerifiedCache())
    assert item.status == CheckStatus.FAIL
    assert "wrong checksum: bert_config.json (md5)" in item.detail


@pytest.mark.parametrize("fmt, algo", [("md5sum", hashlib.md5), ("sha256sum", hashlib.sha256)])
def test_digest_lists(tmp_path, fmt, algo):
    host = imagenet(tmp_path)
    listing = tmp_path / f"list.{fmt}"
    listing.write_text("".join(f"{algo(n.encode()).hexdigest()}  {n}\n"
                               for n in ("train.rec", "val.rec")))
    m = mount(host, verify=[ChecksumList(str(listing), fmt)])
    items = check_mount("resnet", m, VerifiedCache())
    assert [i.status for i in items] == [CheckStatus.PASS, CheckStatus.PASS]
    assert "2 verified against" in items[1].detail
    (host / "val.rec").write_bytes(b"corrupt")
    items = check_mount("resnet", m, VerifiedCache())
    assert items[1].status == CheckStatus.FAIL and "wrong checksum: val.rec" in items[1].detail
    assert items[1].fix == f"{STEP} (into {host})"


def test_a_second_check_reads_nothing_again(tmp_path, monkeypatch):
    host = imagenet(tmp_path)
    listing = tmp_path / "list.md5"
    listing.write_text(f"{md5(b'train.rec')}  train.rec\n")
    m = mount(host, verify=[ChecksumList(str(listing), "md5sum")])
    calls = []
    real = datasets.DIGESTS["md5"]
    monkeypatch.setitem(datasets.DIGESTS, "md5", lambda p: calls.append(p) or real(p))
    cache_file = tmp_path / "records" / "datasets_verified.json"
    check_datasets({"resnet": [m]}, cache_file)
    assert len(calls) == 1 and cache_file.is_file()
    items = check_datasets({"resnet": [m]}, cache_file)
    assert len(calls) == 1 and items[1].status == CheckStatus.PASS
    # a changed file (size or modification time) is read again
    os.utime(host / "train.rec", ns=(1, 1))
    check_datasets({"resnet": [m]}, cache_file)
    assert len(calls) == 2


def test_bad_list_is_named(tmp_path):
    listing = tmp_path / "list.md5"
    listing.write_text("not a checksum line\n")
    m = mount(imagenet(tmp_path), verify=[ChecksumList(str(listing), "md5sum")])
    item = check_mount("resnet", m, VerifiedCache())[1]
    assert item.status == CheckStatus.FAIL and "line 1 is not a md5sum line" in item.detail


@pytest.fixture
def nvidia():
    if not PREP.is_dir():
        pytest.skip(f"NVIDIA's v4.0 files are not available: {NVIDIA} is absent")
    return NVIDIA


def test_bert_lists_as_shipped_parse(nvidia):
    chk = parse_list((PREP / "4320_shards_varlength.chk").read_text(), "chk", "x")
    assert len(chk) == 4320 and chk[0] == ("part_00000_of_04320.hdf5",
                                           "e25b1a34b8d14179b2774d1dbf3b7561")
    assert parse_list((PREP / "eval_varlength.chk").read_text(), "chk", "x") == [
        ("part_eval_10k.hdf5", "611d8bae26646145e1c33338a27ba124")]
    assert len(parse_list((PREP / "eval.md5").read_text(), "articles-md5", "x")) == 10000


def test_articles_md5_as_seperate_test_set_writes_them(tmp_path):
    articles = ["First article.\nline two", "Second article. ", "Third"]
    host = tmp_path / "text"
    host.mkdir()
    (host / "eval.txt").write_text("".join(a + "\n\n" for a in articles))
    listing = tmp_path / "eval.md5"
    listing.write_text("".join(md5(a.rstrip().encode()) + "\n" for a in articles))
    assert article_md5s(host / "eval.txt") == listing.read_text().split()
    spec = ChecksumList(str(listing), "articles-md5", file="eval.txt")
    checked = check_mount("bert", mount(host, verify=[spec]), VerifiedCache())[1]
    assert checked.status == CheckStatus.PASS
    (host / "eval.txt").write_text("Other\n\n")
    item = check_mount("bert", mount(host, verify=[spec]), VerifiedCache())[1]
    assert item.status == CheckStatus.FAIL and "eval.txt (1 articles, 3 listed)" in item.detail


def test_chk_content_md5_as_hdf5_md5_computes_it(tmp_path):
    h5py = pytest.importorskip("h5py")
    np = pytest.importorskip("numpy")
    host = tmp_path / "eval"
    host.mkdir()
    rows = [np.array([101, 7, 102], dtype=np.int16), np.array([101, 102], dtype=np.int16)]
    with h5py.File(host / "part_eval_10k.hdf5", "w") as f:
        ds = f.create_dataset("input_ids", (2,), dtype=h5py.vlen_dtype(np.dtype("int16")))
        for i, r in enumerate(rows):
            ds[i] = r
    # hdf5_md5.py: md5 of str() of the list of each row's md5 of str(row.tolist())
    expected = md5(str([md5(str(r.tolist()).encode()) for r in rows]).encode())
    listing = tmp_path / "eval_varlength.chk"
    listing.write_text(f"part_eval_10k.hdf5\t{expected}\n")
    spec = ChecksumList(str(listing), "chk")
    checked = check_mount("bert", mount(host, verify=[spec]), VerifiedCache())[1]
    assert checked.status == CheckStatus.PASS
    listing.write_text(f"part_eval_10k.hdf5\t{'0' * 32}\n")
    checked = check_mount("bert", mount(host, verify=[spec]), VerifiedCache())[1]
    assert checked.status == CheckStatus.FAIL


def test_chk_without_h5py_is_a_warning_not_a_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "hdf5_available", lambda: False)
    spec = ChecksumList(str(tmp_path / "x.chk"), "chk")
    item = check_mount("bert", mount(imagenet(tmp_path), verify=[spec]), VerifiedCache())[1]
    assert item.status == CheckStatus.WARN and "not verified" in item.detail and "h5py" in item.fix


def test_list_in_the_image_is_read_through_the_runtime(tmp_path):
    host = imagenet(tmp_path)
    spec = ChecksumList("/workspace/lists/imagenet.md5", "md5sum", location="image")
    m = mount(host, verify=[spec])
    read = {"/workspace/lists/imagenet.md5": f"{md5(b'val.idx')}  val.idx\n".encode()}
    item = check_mount("resnet", m, VerifiedCache(), read.__getitem__)[1]
    assert item.status == CheckStatus.PASS
    # no reader: the image is not here yet (pinned, not pulled): not verified, never a pass,
    # and not a blocking failure of a node that pulls the image when the campaign starts
    item = check_mount("resnet", m, VerifiedCache(), None)[1]
    assert item.status == CheckStatus.WARN
    assert "not verified" in item.detail and "gp2bm pull" in item.fix
    # a reader that cannot read it (cat fails in the image) is a failure naming the list
    def broken(path):
        raise OSError(f"cat {path} in IMAGE: No such file or directory")

    item = check_mount("resnet", m, VerifiedCache(), broken)[1]
    assert item.status == CheckStatus.FAIL and "imagenet.md5" in item.detail


def test_a_file_that_is_not_hdf5_is_named_not_a_crash(tmp_path):
    host = tmp_path / "eval"
    host.mkdir()
    (host / "part_eval_10k.hdf5").write_bytes(b"not an HDF5 file\n")
    listing = tmp_path / "eval_varlength.chk"
    listing.write_text("part_eval_10k.hdf5\t" + "0" * 32 + "\n")
    spec = ChecksumList(str(listing), "chk")
    item = check_mount("bert", mount(host, verify=[spec]), VerifiedCache())[1]
    assert item.status == CheckStatus.FAIL
    assert "part_eval_10k.hdf5 (unreadable as hdf5-md5" in item.detail


def test_nvidia_bert_manifest_against_prepared_data(tmp_path):
    m = load_manifest(REPO / "manifests" / "nvidia_bert.yaml")
    packed, phase1, evalset = (tmp_path / n for n in ("packed", "phase1", "eval"))
    for d in (packed, phase1, evalset):
        d.mkdir()
    for i in range(4319):
        (packed / f"part_{i:05}").touch()
    (phase1 / "model.ckpt-28252.pt").touch()
    (phase1 / "bert_config.json").write_text("{}")
    mounts = [dataclasses.replace(x, host=str(h), verify=[])
              for x, h in zip(m.mounts, (packed, phase1, evalset), strict=True)]
    items = check_datasets({"bert": mounts})
    assert [i.status for i in items] == [CheckStatus.FAIL, CheckStatus.FAIL, CheckStatus.FAIL]
    assert "part_[0-9][0-9][0-9][0-9][0-9] (4319 of 4320 files)" in items[0].detail
    assert "create_packed_trainset.py" in items[0].fix
    assert "wrong checksum: bert_config.json (md5)" in items[1].detail
    assert "missing: part_eval_10k.hdf5" in items[2].detail


@pytest.mark.reliability("launch-unpacked-data")
def test_nvidia_bert_manifest_refuses_the_unpacked_shards(tmp_path):
    """The BERT config trains on packed data: the 4320 unpacked shards of
    hdf5_4320_shards_varlength (part_N_of_04320.hdf5) are named with the packing step."""
    m = load_manifest(REPO / "manifests" / "nvidia_bert.yaml")
    unpacked = tmp_path / "hdf5_4320_shards_varlength"
    unpacked.mkdir()
    for i in range(4320):
        (unpacked / f"part_{i:05}_of_04320.hdf5").touch()
    packed = dataclasses.replace(m.mounts[0], host=str(unpacked))
    [item] = check_datasets({"bert": [packed]})
    assert item.status == CheckStatus.FAIL and "(0 of 4320 files)" in item.detail
    assert "packed_data" in item.fix and "create_packed_trainset.py" in item.fix
