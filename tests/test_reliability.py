"""Issue 17's bad-input and fault corpus: every case runs through the real entry point
(`cvaegan.cli.app.main`, what the `cvaegan` script calls) and must end in exit ≠ 0 with exactly one
`error: …` line and no traceback; the fault cases check that nothing is lost or left behind."""

from __future__ import annotations

import json
import os
import shutil
import stat
import warnings
from pathlib import Path

import pytest
import torch

from cvaegan.cli.app import main
from cvaegan.families.checkpoint import make_checkpoint
from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig
from cvaegan.pipelines.train import TrainOptions, train
from cvaegan.runtime.atomic import atomic_write_text, remove_stale_temps
from cvaegan.runtime.checkpoint_io import save_checkpoint, torch_save_atomic
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.locking import folder_lock
from cvaegan.session import load_checkpoint
from tests.helpers import make_shapes_dataset


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()  # drop what earlier steps of the test printed
    with pytest.raises(SystemExit) as ex:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    code = ex.value.code if isinstance(ex.value.code, int) else 1
    return code, out, err


def assert_one_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes_dataset(tmp_path_factory.mktemp("shapes"))


def _opts(data: Path, out: Path, **kw) -> TrainOptions:
    base = dict(data=data, out=out, name="r", resolution=32, width=0.125, latent_dim=16, batch_size=8, steps=2,
                device="cpu", workers=0, cache_dir=out / "cache", log_every=1, sample_every=100, ckpt_every=100)
    base.update(kw)
    return TrainOptions(**base)


# ---------------------------------------------------------------- 9: numbers, validated in one place

BAD_NUMBERS = [
    (["train", "D", "--width", "0"], "--width"), (["train", "D", "--width", "-1"], "--width"),
    (["train", "D", "--latent-dim", "-3"], "--latent-dim"), (["train", "D", "--latent-dim", "0"], "--latent-dim"),
    (["train", "D", "--epochs", "nan"], "--epochs"), (["train", "D", "--epochs", "inf"], "--epochs"),
    (["train", "D", "--epochs", "-1"], "--epochs"), (["train", "D", "--lr", "-1"], "--lr"),
    (["train", "D", "--lr", "nan"], "--lr"), (["judge", "train", "D", "--lr", "nan"], "--lr"),
    (["toy", "--lr", "-1"], "--lr"), (["demo", "-r", "48"], "--resolution"),
    (["evaluate", "--judge", "j.pt", "--data", "D", "-b", "0"], "--batch-size"),
    (["sample", "-c", "0", "--seed", str(2**63)], "--seed"), (["sample", "-c", "0", "--seed", "-1"], "--seed"),
    (["prepare", "folder", "R", "-o", "O", "--limit", "-1"], "--limit"),
    (["prepare", "faces", "R", "-o", "O", "--det-thresh", "nan"], "--det-thresh"),
    (["prepare", "facescrub", "R", "-o", "O", "--max-mb", "-1"], "--max-mb"),
    (["morph", "a.png", "b.png", "--gif-ms", "-5"], "--gif-ms"),
    (["inpaint", "x.png", "--feather", "nan"], "--feather"),
    # 8: counts with no bound used to allocate before anything was checked
    (["sample", "-c", "0", "-n", str(10**9)], "--num"), (["evaluate", "--judge", "j.pt", "--data", "D", "--per-class", str(10**8)],
                                                         "--per-class"),
    (["morph", "a.png", "b.png", "--steps", str(10**9)], "--steps"), (["judge", "train", "D", "-r", "8192"],
                                                                     "--resolution"),
    (["inpaint", "x.png", "--iters", str(10**9)], "--iters"), (["superres", "x.png", "--iters", str(10**9)], "--iters"),
]


@pytest.mark.parametrize("args,flag", BAD_NUMBERS, ids=[" ".join(a) for a, _ in BAD_NUMBERS])
def test_bad_numbers_are_one_line_usage_errors(args, flag, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(args, capsys)
    assert code == 2
    assert_one_error(code, err, flag)


def test_click_usage_errors_are_one_line(capsys, tmp_path):
    code, _, err = cli(["sample", "--class", "0", "--ckptx", "a.pt"], capsys)
    assert_one_error(code, err, "--ckptx", "cvaegan sample --help")
    code, _, err = cli(["train", "--width", "abc", str(tmp_path)], capsys)
    assert_one_error(code, err, "--width")


def test_version_and_bare_command(capsys):
    from cvaegan import __version__

    code, out, err = cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"cvaegan {__version__}" and not err
    code, out, _ = cli([], capsys)
    assert code == 0 and "train" in out and "Usage" in out


def test_warnings_print_as_one_line(capsys):
    with warnings.catch_warnings():
        cli(["--version"], capsys)  # installs the one-line warning printer
        warnings.simplefilter("always")
        warnings.warn("cache folder is\nnot writable", UserWarning)
    err = capsys.readouterr().err
    assert err.strip() == "warning: cache folder is not writable"


# ---------------------------------------------------------------- 15, 12: atomic writes

def test_atomic_writes_get_umask_permissions_not_0600(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    atomic_write_text(tmp_path / "a.txt", "x")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~mask


def test_stale_temp_files_are_removed_on_train_start(shapes, tmp_path):
    ckpts = tmp_path / "runs" / "r" / "checkpoints"
    ckpts.mkdir(parents=True)
    stale = ckpts / ".step_0000004.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert remove_stale_temps(tmp_path / "nowhere") == 0
    train(_opts(shapes, tmp_path / "runs"))
    assert not stale.exists()
    assert not list(ckpts.glob(".*.tmp"))


def test_full_disk_during_torch_save_is_enospc(tmp_path, monkeypatch):
    """torch's C++ writer says `basic_ios::clear`; with less room than the tensors need that must
    become OSError(ENOSPC) (which `cli_errors` prints as one line) and leave no temp file."""
    import errno

    def failing_save(obj, path):
        Path(path).write_bytes(b"partial")
        raise RuntimeError("basic_ios::clear: iostream error")

    monkeypatch.setattr(torch, "save", failing_save)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 10))
    with pytest.raises(OSError) as exc:
        torch_save_atomic(tmp_path / "c.pt", {"w": torch.zeros(1000)})
    assert exc.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**12, 0, 10**12))
    with pytest.raises(CvaeganError, match="could not write"):
        torch_save_atomic(tmp_path / "c.pt", {"w": torch.zeros(1000)})


# ---------------------------------------------------------------- 4: one writer per run folder

def test_folder_lock_refuses_a_second_writer(tmp_path):
    with folder_lock(tmp_path / "run", "run folder"):
        with pytest.raises(CvaeganError, match=f"in use by another cvaegan process \\(pid {os.getpid()}\\)"):
            with folder_lock(tmp_path / "run", "run folder"):
                pass
    with folder_lock(tmp_path / "run"):  # released on exit
        pass


def test_train_refuses_a_run_folder_in_use(shapes, tmp_path):
    with folder_lock(tmp_path / "runs" / "r"):
        with pytest.raises(CvaeganError, match="in use"):
            train(_opts(shapes, tmp_path / "runs"))
    assert not (tmp_path / "runs" / "r" / "log.jsonl").exists()


# ---------------------------------------------------------------- 7: checkpoints validated first

def _tiny_ckpt(**patch) -> dict:
    model = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=2, resolution=32, latent_dim=8, width=0.125)))
    ckpt = make_checkpoint(model, class_names=["a", "b"], step=3)
    for key, value in patch.items():
        ckpt[key] = value
    return ckpt


def _with_model(**fields) -> dict:
    ckpt = _tiny_ckpt()
    ckpt["config"]["model"].update(fields)
    return ckpt


HOSTILE_CHECKPOINTS = {
    "billion classes": (_with_model(num_classes=10**9), "num_classes"),
    "huge latent": (_with_model(latent_dim=10**8), "latent_dim"),
    "float classes": (_with_model(num_classes=2.0), "num_classes"),
    "names not a list": (_tiny_ckpt(class_names="ab"), "class_names"),
    "names of wrong count": (_tiny_ckpt(class_names=["a"]), "class names"),
    "step a string": (_tiny_ckpt(step="3"), "step"),
    "networks missing": (_tiny_ckpt(networks={}), "networks"),
    "weights not tensors": (_tiny_ckpt(networks={"E": {"w": 1}, "G": {}, "D": {}, "C": {}}), "state dict"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_CHECKPOINTS))
def test_hostile_checkpoints_are_refused_before_building(case, tmp_path, capsys):
    ckpt, needle = HOSTILE_CHECKPOINTS[case]
    path = tmp_path / "bad.pt"
    torch.save(ckpt, path)
    with pytest.raises(CvaeganError, match=needle):
        load_checkpoint(path)
    code, _, err = cli(["sample", "-c", "0", "--ckpt", path], capsys)
    assert_one_error(code, err, needle)


def test_mismatched_weights_are_one_line(tmp_path, capsys):
    ckpt = _tiny_ckpt()
    ckpt["networks"]["G"] = {k: v[:1] if v.dim() else v for k, v in ckpt["networks"]["G"].items()}
    torch.save(ckpt, tmp_path / "c.pt")
    code, _, err = cli(["sample", "-c", "0", "--ckpt", tmp_path / "c.pt", "-o", tmp_path / "g.png"], capsys)
    assert_one_error(code, err, "does not match")


# ---------------------------------------------------------------- 13: resume keeps the architecture

def test_resume_with_another_architecture_is_refused_and_config_kept(shapes, tmp_path, capsys):
    train(_opts(shapes, tmp_path / "runs"))
    config = (tmp_path / "runs" / "r" / "config.json").read_text()
    for flag, value in (("-r", "64"), ("--width", "0.25"), ("--latent-dim", "8"), ("--model", "cvae"),
                        ("--g-layout", "late")):
        code, _, err = cli(["train", shapes, "--out", tmp_path / "runs", "--name", "r", "--resume", flag, value,
                            "--steps", "4", "--device", "cpu", "--workers", "0", "--cache-dir", tmp_path / "cache"],
                           capsys)
        assert_one_error(code, err, "--resume", "differs from the run's")
        assert (tmp_path / "runs" / "r" / "config.json").read_text() == config


def test_resume_without_architecture_flags_takes_the_runs(shapes, tmp_path, capsys):
    train(_opts(shapes, tmp_path / "runs"))
    code, _, err = cli(["train", shapes, "--out", tmp_path / "runs", "--name", "r", "--resume", "--steps", "4",
                        "--device", "cpu", "--workers", "0", "--cache-dir", tmp_path / "cache", "--log-every", "1"],
                       capsys)
    assert code == 0, err
    cfg = json.loads((tmp_path / "runs" / "r" / "config.json").read_text())
    assert cfg["model"]["model"]["width"] == 0.125 and cfg["model"]["model"]["latent_dim"] == 16
    assert cfg["model"]["model"]["g_layout"] == "early"
    assert cfg["train"]["resolution"] == 32 and load_checkpoint(tmp_path / "runs" / "r" / "checkpoints" / "latest.pt")["step"] == 4


def test_resume_from_an_export_is_one_line(shapes, tmp_path, capsys):
    run = tmp_path / "runs" / "r"
    save_checkpoint(run / "checkpoints" / "latest.pt", _tiny_ckpt())
    code, _, err = cli(["train", shapes, "--out", tmp_path / "runs", "--name", "r", "--resume", "--device", "cpu"],
                       capsys)
    assert_one_error(code, err, "--resume", "optimizer")


# ---------------------------------------------------------------- 5, 11: manifests contained and well-formed

def _manifest(root: Path, **fields) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    body = {"format": "cvaegan-dataset", "version": 1, "kind": "folder",
            "classes": [{"index": 0, "name": "a", "folder": "a"}]}
    body.update(fields)
    (root / "dataset.json").write_text(json.dumps(body))
    return root


HOSTILE_MANIFESTS = {
    "item escapes with ..": ({"items": [{"file": "../outside.png", "class": 0}]}, "outside the dataset folder"),
    "absolute item": ({"items": [{"file": "/etc/passwd", "class": 0}]}, "outside the dataset folder"),
    "class folder /": ({"classes": [{"index": 0, "name": "root", "folder": "/"}]}, "outside the dataset folder"),
    "class folder ..": ({"classes": [{"index": 0, "name": "up", "folder": "../.."}]}, "outside the dataset folder"),
    "class without index": ({"classes": [{"name": "a"}]}, "integer 'index'"),
    "classes not a list": ({"classes": {"a": 0}}, "'classes' must be a list"),
    "duplicate indices": ({"classes": [{"index": 0, "name": "a"}, {"index": 0, "name": "b"}]}, "each once"),
    "item without class": ({"items": [{"file": "a/x.png"}]}, "has class None"),
    "class as a word": ({"items": [{"file": "a/x.png", "class": "zero"}]}, "has class 'zero'"),
    "class 1e999": ("1e999", "has class inf"),
    "item without file": ({"items": [{"class": 0}]}, "'file' string"),
    "items not a list": ({"items": "a/x.png"}, "'items' must be a list"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_MANIFESTS))
def test_hostile_manifests_are_one_line_errors(case, tmp_path, capsys):
    fields, needle = HOSTILE_MANIFESTS[case]
    data = tmp_path / "data"
    if fields == "1e999":  # json.dumps cannot write it; the raw text can hold it
        _manifest(data)
        text = (data / "dataset.json").read_text()[:-1] + ', "items": [{"file": "a/x.png", "class": 1e999}]}'
        (data / "dataset.json").write_text(text)
    else:
        _manifest(data, **fields)
    make_shapes_dataset(data, classes=1, per_class=2)
    (data / "a").mkdir(exist_ok=True)
    for cmd in (["train", data, "--steps", "1", "--device", "cpu", "--out", tmp_path / "runs"],
                ["judge", "train", data, "--out", tmp_path / "j.pt", "--epochs", "1"]):
        code, _, err = cli(cmd, capsys)
        assert_one_error(code, err, needle)
    assert not list((tmp_path / "runs").glob("*/checkpoints/*.pt"))


def test_merged_manifests_may_point_at_their_sources_only(tmp_path):
    from cvaegan.data.manifest import index_dataset

    real = make_shapes_dataset(tmp_path / "real", classes=1, per_class=2)
    img = next(real.rglob("*.png")).resolve()
    ok = _manifest(tmp_path / "m1", kind="merged", sources={"real": str(real.resolve())},
                   items=[{"file": str(img), "class": 0}])
    assert index_dataset(ok).files == [img]
    bad = _manifest(tmp_path / "m2", kind="merged", sources={"real": str(real.resolve())},
                    items=[{"file": str(img), "class": 0}, {"file": "/etc/hostname", "class": 0}])
    with pytest.raises(CvaeganError, match="outside the dataset folder and its listed sources"):
        index_dataset(bad)


# ---------------------------------------------------------------- 2, 10, 14, 18: where outputs go

@pytest.fixture(scope="module")
def ckpt_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "c.pt"
    save_checkpoint(path, _tiny_ckpt())
    return path


def test_out_naming_a_folder_or_a_file_is_one_line(ckpt_file, shapes, tmp_path, capsys):
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "file").write_text("x")
    cases = [
        (["sample", "-c", "0", "--ckpt", ckpt_file, "-o", tmp_path / "dir.png"], "is a folder"),
        (["sample", "-c", "0", "--ckpt", ckpt_file, "-o", tmp_path / "file" / "g.png"], "is a file, not a folder"),
        (["train", shapes, "--out", tmp_path / "file", "--device", "cpu"], "is a file"),
        (["toy", "--out", tmp_path / "file"], "is a file"),
        (["judge", "train", shapes, "--out", tmp_path / "dir.png"], "is a folder"),
        (["augment", "--ckpt", ckpt_file, "--per-class", "1", "--out", tmp_path / "file"], "is a file"),
        (["prepare", "folder", shapes, "--out", tmp_path / "file"], "is a file"),
    ]
    for args, needle in cases:
        code, _, err = cli(args, capsys)
        assert_one_error(code, err, needle)


def test_record_beside_an_output_never_replaces_a_dataset_manifest(ckpt_file, tmp_path, capsys):
    data = _manifest(tmp_path / "data")
    before = (data / "dataset.json").read_text()
    code, _, err = cli(["sample", "-c", "0", "--ckpt", ckpt_file, "-o", data / "dataset.png", "--device", "cpu"], capsys)
    assert_one_error(code, err, "not a record of a cvaegan command")
    assert (data / "dataset.json").read_text() == before and not (data / "dataset.png").exists()
    code, _, err = cli(["sample", "-c", "0", "--ckpt", ckpt_file, "-o", tmp_path / "g.png", "--device", "cpu"], capsys)
    assert code == 0, err
    code, _, err = cli(["sample", "-c", "0", "--ckpt", ckpt_file, "-o", tmp_path / "g.png", "--device", "cpu"], capsys)
    assert code == 0, err  # its own record from the first run may be replaced


def test_grid_suffix_decides_the_format(ckpt_file, tmp_path, capsys):
    from PIL import Image

    code, _, err = cli(["sample", "-c", "0", "--ckpt", ckpt_file, "-o", tmp_path / "g.jpg", "--device", "cpu"], capsys)
    assert code == 0, err
    assert Image.open(tmp_path / "g.jpg").format == "JPEG"
    code, _, err = cli(["sample", "-c", "0", "--ckpt", ckpt_file, "-o", tmp_path / "g.gif", "--device", "cpu"], capsys)
    assert_one_error(code, err, "cannot write '.gif'")


def test_augment_out_onto_a_dataset_is_refused(ckpt_file, tmp_path, capsys):
    data = make_shapes_dataset(tmp_path / "data", classes=2, per_class=2)
    _manifest(data, classes=[{"index": 0, "name": "a", "folder": "class_0"}, {"index": 1, "name": "b", "folder": "class_1"}])
    before = (data / "dataset.json").read_text()
    base = ["augment", "--ckpt", ckpt_file, "--per-class", "1", "--device", "cpu"]
    code, _, err = cli(base + ["--merge-with", data, "--out", data, "--overwrite"], capsys)
    assert_one_error(code, err, "--merge-with dataset")
    code, _, err = cli(base + ["--out", data], capsys)
    assert_one_error(code, err, "not empty", "--overwrite")
    assert (data / "dataset.json").read_text() == before
    code, _, err = cli(base + ["--out", tmp_path / "aug"], capsys)
    assert code == 0, err
    code, _, err = cli(base + ["--out", tmp_path / "aug"], capsys)  # its own run: resumes (nothing left)
    assert code == 0, err


def test_prepare_out_inside_raw_or_onto_other_files_is_refused(shapes, tmp_path, capsys):
    raw = tmp_path / "raw"
    shutil.copytree(shapes, raw)
    code, _, err = cli(["prepare", "folder", raw, "--out", raw / "out", "--size", "32"], capsys)
    assert_one_error(code, err, "inside RAW")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    code, _, err = cli(["prepare", "folder", raw, "--out", other, "--size", "32"], capsys)
    assert_one_error(code, err, "not empty")
    code, _, err = cli(["prepare", "folder", raw, "--out", tmp_path / "prep", "--size", "32", "-j", "1"], capsys)
    assert code == 0, err
    code, _, err = cli(["prepare", "folder", raw, "--out", tmp_path / "prep", "--size", "32", "-j", "1"], capsys)
    assert code == 0, err  # a rerun of its own folder resumes


def test_prepare_and_augment_take_the_folder_lock(ckpt_file, shapes, tmp_path, capsys):
    with folder_lock(tmp_path / "prep"):
        code, _, err = cli(["prepare", "folder", shapes, "--out", tmp_path / "prep", "--size", "32"], capsys)
        assert_one_error(code, err, "in use by another cvaegan process")
    with folder_lock(tmp_path / "aug"):
        code, _, err = cli(["augment", "--ckpt", ckpt_file, "--per-class", "1", "--out", tmp_path / "aug",
                            "--device", "cpu"], capsys)
        assert_one_error(code, err, "in use by another cvaegan process")


# ---------------------------------------------------------------- 1: names that are not UTF-8

def test_latin1_file_names_are_carried_through_prepare_train_and_evaluate(tmp_path, capsys):
    """Latin-1 bytes in a class folder and a file name (old photo archives): prepare writes a
    manifest that names them losslessly, train and judge read them, nothing crashes."""
    raw = make_shapes_dataset(tmp_path / "raw", classes=2, per_class=6)
    latin = os.fsdecode(b"Jos\xe9")
    os.rename(raw / "class_0", raw / latin)
    first = sorted((raw / latin).iterdir())[0]
    os.rename(first, raw / latin / os.fsdecode(b"caf\xe9.png"))
    code, _, err = cli(["prepare", "folder", raw, "--out", tmp_path / "prep", "--size", "32", "-j", "1"], capsys)
    assert code == 0, err
    manifest = json.loads((tmp_path / "prep" / "dataset.json").read_bytes().decode("utf-8"))
    assert manifest["classes"][0]["name"] == latin  # the \udce9 escape reads back as the same name
    code, _, err = cli(["train", raw, "--out", tmp_path / "runs", "--name", "r", "-r", "32", "--width", "0.125",
                        "--latent-dim", "8", "-b", "4", "--steps", "1", "--device", "cpu", "--workers", "0",
                        "--cache-dir", tmp_path / "cache"], capsys)
    assert code == 0, err
    assert load_checkpoint(tmp_path / "runs" / "r" / "checkpoints" / "latest.pt")["class_names"][0] == latin
    code, _, err = cli(["judge", "train", raw, "--out", tmp_path / "j.pt", "--epochs", "1", "-r", "32", "--width", "4",
                        "--workers", "0", "--cache-dir", tmp_path / "cache", "--device", "cpu"], capsys)
    assert code == 0, err


# ---------------------------------------------------------------- 3: one folder per class, always

def test_distinct_folders_never_collide():
    from cvaegan.data.naming import distinct_folders
    from cvaegan.prepare.common import unique_folders
    from cvaegan.pipelines.sample import class_folders

    assert distinct_folders(["a", "a_2", "a", "A"]) == ["a", "a_2", "a_3", "A_4"]
    for namer in (class_folders, unique_folders):
        folders = namer(["Ann Lee", "Ann_Lee", "ann lee", "Bob", "bob", "mix_00000"])
        assert len({f.lower() for f in folders}) == 6, folders


def test_sample_separate_and_augment_keep_colliding_classes_apart(tmp_path, capsys):
    model = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=3, resolution=32, latent_dim=8, width=0.125)))
    path = tmp_path / "c.pt"
    save_checkpoint(path, make_checkpoint(model, class_names=["Ann Lee", "Ann_Lee", "ann lee"], step=1))
    code, _, err = cli(["sample", "-c", "all", "-n", "2", "--ckpt", path, "-o", tmp_path / "g.png",
                        "--separate", tmp_path / "sep", "--device", "cpu"], capsys)
    assert code == 0, err
    assert len(list((tmp_path / "sep").iterdir())) == 3 and len(list((tmp_path / "sep").rglob("*.png"))) == 6
    code, _, err = cli(["augment", "--ckpt", path, "--per-class", "2", "--out", tmp_path / "aug", "--device", "cpu"],
                       capsys)
    assert code == 0, err
    from cvaegan.data.manifest import index_dataset

    index = index_dataset(tmp_path / "aug")
    assert sorted(index.labels) == [0, 0, 1, 1, 2, 2] and len(set(index.files)) == 6


# ---------------------------------------------------------------- 16, 18: decoding

def test_decompression_bomb_limit_fits_photos(tmp_path):
    from PIL import Image

    from cvaegan.data.dataset import load_image_square

    assert Image.MAX_IMAGE_PIXELS <= 64_000_000
    big = tmp_path / "bomb.png"
    Image.new("L", (9000, 8000)).save(big)  # 72 Mpx of zeros: a few KB on disk
    with pytest.raises(Image.DecompressionBombWarning):
        load_image_square(big, 32)


def test_float_tiffs_keep_their_values(tmp_path):
    import numpy as np
    from PIL import Image

    from cvaegan.data.dataset import load_image_square

    arr = np.full((40, 40), 0.5, dtype=np.float32)
    Image.fromarray(arr, mode="F").save(tmp_path / "f.tif")
    out = load_image_square(tmp_path / "f.tif", 32)
    assert abs(int(out.mean()) - 128) <= 1  # not black


def test_empty_class_folders_warn(tmp_path):
    from cvaegan.data.manifest import index_dataset

    data = make_shapes_dataset(tmp_path / "d", classes=2, per_class=2)
    (data / "empty_class").mkdir()
    with pytest.warns(UserWarning, match="1 of 3 class folders hold no image.*empty_class"):
        index_dataset(data)


# ---------------------------------------------------------------- 17: signals

_SPAWNED: list = []


@pytest.fixture(autouse=True)
def _kill_spawned():
    """No job a failed test started outlives it."""
    yield
    while _SPAWNED:
        proc = _SPAWNED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _spawn(args: list, cwd: Path):
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cvaegan", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _SPAWNED.append(proc)
    return proc


def _wait_for(cond, proc, timeout: float = 300.0) -> None:
    import time

    t0 = time.monotonic()
    while not cond():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "timed out waiting for the job to start"
        time.sleep(0.05)


def test_sigterm_on_augment_is_one_line_and_leaves_no_temp_files(ckpt_file, tmp_path):
    import signal

    out = tmp_path / "aug"
    proc = _spawn(["augment", "--ckpt", ckpt_file, "--per-class", "20000", "--out", out, "--device", "cpu",
                   "-b", "64", "--writers", "1"], tmp_path)
    _wait_for(lambda: len(list(out.rglob("*.png"))) >= 64, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert [line for line in err.splitlines() if line.startswith("error")] == ["error: terminated"]
    assert "Traceback" not in err
    assert not list(out.rglob("*.tmp"))


def test_second_ctrl_c_during_training_exits_130(shapes, tmp_path):
    import signal

    run = tmp_path / "runs" / "r"
    proc = _spawn(["train", shapes, "--out", tmp_path / "runs", "--name", "r", "-r", "32", "--width", "0.125",
                   "--latent-dim", "8", "-b", "4", "--steps", "100000", "--device", "cpu", "--workers", "0",
                   "--cache-dir", tmp_path / "cache", "--log-every", "1"], tmp_path)
    _wait_for(lambda: (run / "log.jsonl").is_file() and len((run / "log.jsonl").read_text().splitlines()) >= 3, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err


def test_help_examples_fit_80_columns():
    """Rich wraps an example line longer than the panel mid-command; every line of every command's
    examples must fit (76 visible characters: the panel's margins)."""
    import re

    import typer

    from cvaegan.cli.app import app

    group = typer.main.get_command(app)
    commands = [group.commands[n] for n in group.commands]
    commands += [c for g in commands if hasattr(g, "commands") for c in g.commands.values()]
    checked = 0
    for cmd in commands:
        for line in (cmd.epilog or "").splitlines():
            visible = re.sub(r"\[/?[a-z ]*\]", "", line).replace("\\\\", "\\")
            assert len(visible) <= 76, (cmd.name, visible)
            checked += 1
    assert checked > 50


# ---------------------------------------------------------------- kill -9, then rerun

def _kill_9_then_rerun(args: list, started, cwd: Path) -> None:
    """Run a job, SIGKILL it once `started()` holds, then run it again to completion."""
    import signal

    proc = _spawn(args, cwd)
    _wait_for(started, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    rerun = _spawn(args, cwd)
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err


def test_kill_9_during_augment_then_rerun_completes_consistently(ckpt_file, tmp_path):
    from PIL import Image

    from cvaegan.data.manifest import index_dataset

    out = tmp_path / "aug"
    args = ["augment", "--ckpt", ckpt_file, "--per-class", "600", "--out", out, "--device", "cpu", "-b", "32",
            "--writers", "1"]
    _kill_9_then_rerun(args, lambda: len(list(out.rglob("*.png"))) >= 100, tmp_path)
    index = index_dataset(out)
    assert len(index) == 1200 and sorted(set(index.labels)) == [0, 1]
    for f in index.files:
        with Image.open(f) as im:
            im.load()
    assert not list(out.rglob("*.tmp"))


def test_kill_9_during_training_then_resume(shapes, tmp_path):
    import signal

    run = tmp_path / "runs" / "r"
    args = ["train", shapes, "--out", tmp_path / "runs", "--name", "r", "-r", "32", "--width", "0.125",
            "--latent-dim", "8", "-b", "4", "--device", "cpu", "--workers", "0", "--cache-dir", tmp_path / "cache",
            "--log-every", "1", "--ckpt-every", "2", "--sample-every", "1000"]
    proc = _spawn([*args, "--steps", "100000"], tmp_path)
    _wait_for(lambda: (run / "checkpoints" / "latest.pt").is_file(), proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    step = load_checkpoint(run / "checkpoints" / "latest.pt")["step"]
    again = _spawn([*args, "--steps", str(step + 2), "--resume"], tmp_path)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert load_checkpoint(run / "checkpoints" / "latest.pt")["step"] == step + 2
    assert not list(run.rglob("*.tmp"))


def test_kill_9_during_prepare_then_rerun_completes_consistently(tmp_path):
    from PIL import Image

    from cvaegan.data.manifest import index_dataset

    raw = make_shapes_dataset(tmp_path / "raw", classes=3, per_class=80, size=48)
    out = tmp_path / "prep"
    args = ["prepare", "folder", raw, "--out", out, "--size", "32", "-j", "1"]
    journal = out / ".prepare" / "journal.jsonl"
    _kill_9_then_rerun(args, lambda: journal.is_file() and len(journal.read_text().splitlines()) >= 20, tmp_path)
    index = index_dataset(out)
    assert len(index) == 240 and sorted(set(index.labels)) == [0, 1, 2]
    for f in index.files:
        with Image.open(f) as im:
            assert im.size == (32, 32)
    assert not list(out.rglob("*.tmp"))


def test_merged_view_of_a_split_view_keeps_same_named_files_of_one_class_apart(tmp_path):
    """A split-view manifest (absolute paths outside its folder, as benchmarks/fidelity.py writes)
    whose class holds two files called 1.png from different folders: the merged view must link
    both, not let the second replace the first."""
    from PIL import Image

    from cvaegan.apps.augment import write_merged
    from cvaegan.data.manifest import MANIFEST_NAME, index_dataset, new_manifest

    src = tmp_path / "photos"
    files = {}
    for folder, colour in (("a", (255, 0, 0)), ("b", (0, 0, 255)), ("c", (0, 255, 0))):
        (src / folder).mkdir(parents=True)
        files[folder] = src / folder / "1.png"
        Image.new("RGB", (16, 16), colour).save(files[folder])
    items = [{"file": str(files["a"]), "class": 0, "split": "train"},
             {"file": str(files["b"]), "class": 0, "split": "train"},
             {"file": str(files["c"]), "class": 1, "split": "test"}]
    view = tmp_path / "view"
    view.mkdir()
    (view / MANIFEST_NAME).write_text(json.dumps(new_manifest(
        "split-view", [{"index": 0, "name": "p"}, {"index": 1, "name": "q"}], items, sources=[str(src)])))
    root = write_merged(tmp_path / "aug", {"classes": [], "items": []}, index_dataset(view))
    merged = index_dataset(root)
    train = sorted(str(Path(f).resolve()) for f, s in zip(merged.files, merged.splits) if s == "train")
    assert train == sorted([str(files["a"].resolve()), str(files["b"].resolve())])
    linked = sorted(str(p.resolve()) for p in root.rglob("*.png") if p.is_symlink())
    assert linked == train


def test_a_run_saved_before_g_layout_resumes_with_the_late_layout(shapes, tmp_path, capsys):
    """A cvaegan 0.1 run has no g_layout in its config: --resume rebuilds (and keeps) its late G."""
    train(_opts(shapes, tmp_path / "runs", g_layout="late"))
    latest = tmp_path / "runs" / "r" / "checkpoints" / "latest.pt"
    ckpt = torch.load(latest, weights_only=True)
    del ckpt["config"]["model"]["g_layout"]
    save_checkpoint(latest, ckpt)
    code, _, err = cli(["train", shapes, "--out", tmp_path / "runs", "--name", "r", "--resume", "--steps", "4",
                        "--device", "cpu", "--workers", "0", "--cache-dir", tmp_path / "cache"], capsys)
    assert code == 0, err
    assert load_checkpoint(latest)["config"]["model"]["g_layout"] == "late"
    code, _, err = cli(["train", shapes, "--out", tmp_path / "runs", "--name", "s", "--g-layout", "middle",
                        "--steps", "1", "--device", "cpu", "--workers", "0", "--cache-dir", tmp_path / "cache"], capsys)
    assert_one_error(code, err, "g_layout")
