import pytest
import torch
from torch import nn

from lectures_lib import cache


def build():
    torch.manual_seed(0)
    return nn.Linear(3, 2)


class Trainer:
    def __init__(self):
        self.calls = 0

    def __call__(self, model):
        self.calls += 1
        with torch.no_grad():
            model.weight.fill_(float(self.calls))
        return {"history": [{"epoch": 1, "acc": 0.5}]}


def test_key_is_stable_and_order_free():
    assert cache.config_key({"a": 1, "b": 2}) == cache.config_key({"b": 2, "a": 1})
    assert cache.config_key({"a": 1}) != cache.config_key({"a": 2})


def test_trains_once_then_loads(tmp_data_dir):
    trainer = Trainer()
    m1, meta1 = cache.cached_model("toy", {"lr": 1}, build, trainer)
    m2, meta2 = cache.cached_model("toy", {"lr": 1}, build, trainer)
    assert trainer.calls == 1 and meta1 == meta2 and torch.equal(m1.weight, m2.weight)
    assert not list((tmp_data_dir / "checkpoints").glob("*.tmp"))  # atomic write left nothing behind
    cache.cached_model("toy", {"lr": 2}, build, trainer)  # another config, another file
    assert trainer.calls == 2 and len(list((tmp_data_dir / "checkpoints").glob("toy-*.pt"))) == 2


def test_checkpoint_loads_with_weights_only(tmp_data_dir):
    cache.cached_model("toy", {"lr": 1}, build, Trainer())
    path = cache.checkpoint_path("toy", {"lr": 1})
    payload = torch.load(path, weights_only=True)
    assert set(payload) == {"format", "config", "meta", "state_dict", "sha256"}


@pytest.mark.parametrize("damage", ["truncate", "garbage", "tamper"])
def test_corrupt_checkpoint_is_rebuilt_with_a_warning(tmp_data_dir, damage):
    trainer = Trainer()
    cache.cached_model("toy", {"lr": 1}, build, trainer)
    path = cache.checkpoint_path("toy", {"lr": 1})
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint at all")
    else:  # valid file whose tensors no longer match their checksum
        payload = torch.load(path, weights_only=True)
        payload["state_dict"]["weight"] += 1
        torch.save(payload, path)
    with pytest.warns(RuntimeWarning, match="retraining"):
        model, _ = cache.cached_model("toy", {"lr": 1}, build, trainer)
    assert trainer.calls == 2 and torch.all(model.weight == 2)
    cache.load_checkpoint(path, build(), {"lr": 1})  # rewritten file is valid again


def test_mismatched_model_or_config_is_detected(tmp_data_dir):
    cache.cached_model("toy", {"lr": 1}, build, Trainer())
    path = cache.checkpoint_path("toy", {"lr": 1})
    with pytest.raises(ValueError, match="another config"):
        cache.load_checkpoint(path, build(), {"lr": 3})
    with pytest.raises(ValueError, match="does not fit the model"):
        cache.load_checkpoint(path, nn.Linear(4, 2), {"lr": 1})


@pytest.mark.parametrize("damage", ["missing sha256", "missing state_dict", "meta not json", "a folder"])
def test_damaged_entries_are_rebuilt(tmp_data_dir, damage):
    trainer = Trainer()
    cache.cached_model("toy", {"lr": 1}, build, trainer)
    path = cache.checkpoint_path("toy", {"lr": 1})
    if damage == "a folder":
        path.unlink()
        (path / "inside").mkdir(parents=True)
    else:
        payload = torch.load(path, weights_only=True)
        if damage == "meta not json":
            payload["meta"] = "{not json"
        else:
            del payload[damage.split()[1]]
        torch.save(payload, path)
    with pytest.warns(RuntimeWarning, match="retraining"):
        model, _ = cache.cached_model("toy", {"lr": 1}, build, trainer)
    assert trainer.calls == 2 and path.is_file() and torch.all(model.weight == 2)


SLOW_TRAINER = r"""
import sys, time, torch
from torch import nn
from lectures_lib import cache

def build():
    torch.manual_seed(0)
    return nn.Linear(3, 2)

def train(model):
    with open(sys.argv[1], "a") as f:
        f.write("trained\n")
    time.sleep(2.0)
    with torch.no_grad():
        model.weight.fill_(7.0)
    return {"history": []}

model, _ = cache.cached_model("toy", {"lr": 1}, build, train)
print(float(model.weight.sum()))
"""


def test_two_processes_asking_for_one_key_train_once(tmp_data_dir, tmp_path):
    import os
    import subprocess
    import sys

    log = tmp_path / "calls.txt"
    env = dict(os.environ, LECTURES_DATA=str(tmp_data_dir))
    procs = [subprocess.Popen([sys.executable, "-c", SLOW_TRAINER, str(log)], env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert log.read_text().count("trained") == 1 and outs == ["42.0", "42.0"]
