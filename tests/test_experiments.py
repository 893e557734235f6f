"""The stored results under experiments/ match the scripts that write them (the runs themselves take minutes)."""

import importlib.util
import json
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_beta_vae_setting_search_file_matches_its_script():
    script = load_script("beta_vae_setting_search")
    stored = json.loads(script.OUTPUT.read_text(encoding="utf-8"))
    assert stored["settings"] == script.SETTINGS
    assert stored["budget"] == {"resolution": script.RESOLUTION, "latent_dim": script.LATENT_DIM,
                                "hidden": list(script.HIDDEN), "epochs": script.EPOCHS, "train_images": script.NUM_TRAIN,
                                "test_images": script.NUM_TEST, "lr": 2e-3, "batch_size": 128}
    assert set(stored["mig"]) == set(script.SETTINGS)
    for setting, by_beta in stored["mig"].items():
        assert set(by_beta) == {f"{beta:g}" for beta in script.BETAS}, setting
        for beta, values in by_beta.items():
            assert len(values) == len(stored["seeds"]), (setting, beta)
            assert all(0.0 <= value <= 1.0 for value in values), (setting, beta)
    # notebook 08 trains seeds 0 and 1 and compares its seed-0 models with the file
    assert {0, 1} <= set(stored["seeds"])


def test_beta_vae_setting_search_budget_is_notebook_08s():
    script = load_script("beta_vae_setting_search")
    notebook = (Path(__file__).resolve().parents[1] / "notebooks" / "08_beta_vae_disentanglement.py").read_text()
    for fragment in [f"RESOLUTION = {script.RESOLUTION}", f"LATENT_DIM = {script.LATENT_DIM}",
                     '"ci": 16', "num_train, num_test = 16000, 5000", "lr=2e-3, batch_size=128",
                     "hidden=(256, 128)"]:
        assert fragment in notebook, f"notebook 08 no longer has {fragment!r}: rerun experiments/beta_vae_setting_search.py"


@pytest.mark.parametrize("name", ["beta_vae_setting_search"])
def test_experiment_scripts_document_how_to_run_them(name):
    assert "uv run python experiments/" in (load_script(name).__doc__ or "")
