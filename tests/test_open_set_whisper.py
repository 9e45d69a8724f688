"""The open-set rule with Whisper's 99 languages (models/open_set.py), the language-name table
(models/whisper/languages.py) and what `predict --reject-unknown` prints with and without
Whisper outputs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from models import open_set, open_set_whisper
from models.whisper import languages as wl

LANGS = ["English", "French", "Mandarin"]          # folder names: "Mandarin" is Whisper's "zh"
IN_CODES = ("en", "fr", "zh")


def test_names_and_codes_follow_whispers_table():
    assert len(wl.CODES) == 99 and wl.CODES[:3] == ("en", "zh", "de") and wl.CODES[-1] == "su"
    assert wl.name_of("it") == "Italian" and wl.name_of("haw") == "Hawaiian"
    assert [wl.code_for(n) for n in ("English", "french", "SPANISH", "German", "Russian", "Chinese")] == \
        ["en", "fr", "es", "de", "ru", "zh"]
    assert wl.code_for("Mandarin") == "zh" and wl.code_for("haitian_creole") == "ht" and wl.code_for("pt") == "pt"
    assert list(wl.indices_for(LANGS)) == [0, 6, 1]
    with pytest.raises(wl.UnknownLanguageName, match="Klingon"):
        wl.code_for("Klingon")
    with pytest.raises(wl.UnknownLanguageName, match="twice"):
        wl.codes_for(["Chinese", "Mandarin"])


def test_table_order_is_the_installed_models_token_order():
    from models.whisper import weights

    try:
        config = json.loads(weights.read_verified("config.json", weights.default_dir()))
        vocab = weights.read_verified("vocabulary.txt", weights.default_dir()).decode("utf-8").split("\n")
    except (OSError, weights.WeightsError) as err:
        pytest.skip(f"Whisper weights not installed: {err}")
    assert tuple(vocab[i][2:-2] for i in config["lang_ids"]) == wl.CODES


def _whisper(mass: dict) -> np.ndarray:
    """A [99] distribution with the given code -> probability, the rest spread evenly."""
    w = np.zeros(99)
    for code, p in mass.items():
        w[wl.CODES.index(code)] = p
    rest = [i for i in range(99) if w[i] == 0]
    w[rest] = (1.0 - w.sum()) / len(rest)
    return w


def _synthetic(rng, n: int, unknown: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(top probability, embeddings [n, 6], predicted, whisper [n, 99]) for in-set or out-of-set clips."""
    predicted = rng.integers(0, 3, n)
    emb = np.eye(6)[predicted] + 0.1 * rng.normal(size=(n, 6))
    whisper = np.stack([_whisper({IN_CODES[p]: 0.7, "ja": 0.1}) for p in predicted])
    top = rng.uniform(0.8, 1.0, n)
    if unknown:   # off the class clusters, less sure, and Whisper hears another language
        emb += 0.8 * np.eye(6)[3 + rng.integers(0, 3, n)]
        whisper = np.stack([_whisper({IN_CODES[p]: 0.1, "it": 0.6}) for p in predicted])
        top = rng.uniform(0.5, 0.9, n)
    return top, emb, predicted, whisper


def _features(top, emb, predicted, whisper, centres, fit):
    return open_set_whisper.rule_features(top, open_set.centroid_distance(emb, predicted, centres),
                                          open_set_whisper.mahalanobis_distance(emb, predicted, fit), whisper,
                                          wl.indices_for(LANGS))


@pytest.fixture(scope="module")
def chosen_rule():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    train = np.eye(6)[labels] + 0.1 * rng.normal(size=(300, 6))
    centres = open_set.centroids(train, labels, 3)
    fit = open_set_whisper.fit_mahalanobis(train, labels, 3, dims=4)
    held = _synthetic(rng, 200, unknown=False)
    out = _synthetic(rng, 100, unknown=True)
    correct = np.ones(200, bool)
    chosen = open_set_whisper.choose_whisper_rule(_features(*held, centres, fit), correct,
                                                  _features(*out, centres, fit))
    params = {"languages": LANGS, "centroids": centres, "min_probability": 0.0, "max_distance": 2.0,
              "whisper": open_set_whisper.whisper_rule_params(chosen, fit, LANGS)}
    return chosen, params, centres, fit


def test_rule_keeps_in_set_and_rejects_out_of_set(chosen_rule):
    chosen, params, centres, fit = chosen_rule
    assert chosen["chosen_kept_correct"] >= 0.95 and chosen["chosen_rejected"] >= 0.95
    rng = np.random.default_rng(1)                    # new clips, never seen by the choice
    new_in, new_out = _synthetic(rng, 100, unknown=False), _synthetic(rng, 100, unknown=True)
    assert open_set_whisper.whisper_is_unknown(_features(*new_in, centres, fit), chosen).mean() <= 0.1
    assert open_set_whisper.whisper_is_unknown(_features(*new_out, centres, fit), chosen).mean() >= 0.9
    assert params["whisper"]["codes"] == list(IN_CODES)
    assert params["whisper"]["features"] == list(open_set_whisper.WHISPER_FEATURES)


def test_threshold_keeps_the_asked_share_of_correct_answers():
    rng = np.random.default_rng(2)
    in_features, out_features = rng.normal(size=(200, 5)), rng.normal(0.5, 1.0, size=(50, 5))
    correct = rng.uniform(size=200) < 0.9
    for floor in (0.8, 0.95, 1.0):
        chosen = open_set_whisper.choose_whisper_rule(in_features, correct, out_features, floor)
        kept = ~open_set_whisper.whisper_is_unknown(in_features, chosen) & correct
        assert kept.sum() >= np.ceil(floor * correct.sum() - 1e-9)
        assert kept.sum() - 1 < floor * correct.sum()   # the lowest such threshold: one less would not do


def test_decide_names_the_guess_only_when_unknown(chosen_rule, tmp_path):
    _, params, _, _ = chosen_rule
    open_set.save_params(str(tmp_path), {**params, "centroids": params["centroids"].tolist()})
    stored = open_set.load_params(str(tmp_path))
    assert json.loads((tmp_path / open_set.PARAMS_FILE).read_text())["version"] == open_set.PARAMS_VERSION
    probs = {"English": 0.9, "French": 0.05, "Mandarin": 0.05}
    known = open_set.decide(probs, np.eye(6)[0], stored, whisper_probabilities=_whisper({"en": 0.8}))
    assert known["language"] == "English" and "unknown_guess" not in known
    italian = _whisper({"en": 0.05, "it": 0.7, "zh": 0.05})
    unknown = open_set.decide({"English": 0.6, "French": 0.3, "Mandarin": 0.1}, np.eye(6)[0] + 0.8 * np.eye(6)[4],
                              stored, whisper_probabilities=italian)
    assert unknown["language"] == open_set.UNKNOWN and "open-set score" in unknown["unknown_reason"]
    assert unknown["unknown_guess"] == "Italian" and unknown["unknown_guess_probability"] == pytest.approx(0.7)


def test_guess_is_never_one_of_the_models_languages():
    w = _whisper({"en": 0.6, "zh": 0.2, "pt": 0.1})
    assert open_set_whisper.unknown_guess(w, wl.indices_for(LANGS)) == {"unknown_guess": "Portuguese",
                                                               "unknown_guess_probability": pytest.approx(0.1)}


def test_without_whisper_outputs_the_two_thresholds_decide(chosen_rule):
    _, params, centres, _ = chosen_rule
    strict = {**params, "min_probability": 0.95}
    out = open_set.decide({"English": 0.9, "French": 0.05, "Mandarin": 0.05}, np.eye(6)[0], strict)
    assert out["language"] == open_set.UNKNOWN and "top probability" in out["unknown_reason"]
    assert "unknown_guess" not in out


def test_stored_rule_for_other_languages_is_refused(chosen_rule, tmp_path):
    _, params, _, _ = chosen_rule
    bad = {**params, "centroids": params["centroids"].tolist(),
           "whisper": {**params["whisper"], "codes": ["en", "fr", "de"]}}
    open_set.save_params(str(tmp_path), bad)
    with pytest.raises(open_set.OpenSetError, match="codes"):
        open_set.load_params(str(tmp_path))


# --- the CLI ---------------------------------------------------------------------------------

RATE, WINDOW_S, HOP_S = 16_000, 1.0, 0.5


class FakeModel:
    """A backend whose every window answers English at 0.6 from an embedding far from every
    class, with (or without) Whisper's distribution saying Italian."""

    def __init__(self, path: str, whisper: bool):
        self.path, self.whisper = path, whisper

    def analyse(self, waveform, sample_rate, embeddings=False):
        from contract.geometry import serving_window_count

        n = serving_window_count(len(waveform), int(WINDOW_S * RATE), int(HOP_S * RATE))
        out = {"window_seconds": np.float32(WINDOW_S), "hop_seconds": np.float32(HOP_S), "sample_rate": RATE,
               "languages": np.array([s.encode() for s in LANGS]),
               "window_probabilities": np.tile([0.6, 0.3, 0.1], (n, 1)), "window_weight": np.ones(n),
               "window_start_s": np.arange(n) * HOP_S, "window_end_s": np.arange(n) * HOP_S + WINDOW_S,
               "window_speech": np.ones(n)}
        if embeddings:
            out["window_embeddings"] = np.tile(np.eye(6)[0] + 0.8 * np.eye(6)[4], (n, 1))
        if self.whisper:
            out["window_whisper_language_probabilities"] = np.tile(_whisper({"en": 0.05, "it": 0.7}), (n, 1))
        return out


@pytest.mark.parametrize("whisper", [True, False])
def test_cli_prints_the_guess_when_the_model_gives_whispers_distribution(chosen_rule, tmp_path, monkeypatch,
                                                                         capsys, whisper):
    from serving import cli

    _, params, _, _ = chosen_rule
    model_dir = tmp_path / "model"
    open_set.save_params(str(model_dir), {**params, "centroids": params["centroids"].tolist(), "max_distance": 0.1})
    wav = tmp_path / "clip.wav"
    sf.write(str(wav), 0.1 * np.sin(np.arange(2 * RATE) / 7.0).astype(np.float32), RATE)
    monkeypatch.setattr(cli, "_backend", lambda args: FakeModel(str(model_dir), whisper))
    assert cli.main(["predict", "--model-dir", str(model_dir), "--reject-unknown", str(wav)]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["language"] == open_set.UNKNOWN
    if whisper:   # the Whisper rule decided, and names its guess
        assert "open-set score" in record["unknown_reason"]
        assert record["unknown_guess"] == "Italian" and record["unknown_guess_probability"] == pytest.approx(0.7)
    else:         # the two thresholds decided: no guess to give
        assert "embedding distance" in record["unknown_reason"] and "unknown_guess" not in record


def test_offline_choice_never_reads_the_measure_languages():
    """bench/open_set_whisper.py: scrambling the measure-role clips changes nothing chosen."""
    from bench import open_set_whisper as bench

    rng = np.random.default_rng(3)
    n = 240
    roles = np.array(["in_set"] * 120 + ["threshold"] * 60 + ["measure"] * 60)
    features = rng.normal(size=(n, 5)) + (roles != "in_set")[:, None]
    split = {"features": features, "top": rng.uniform(0.4, 1, n), "distance": rng.uniform(0, 1, n),
             "correct": rng.uniform(size=n) < 0.9, "choose_in": np.arange(n) < 60,
             "measure_in": (np.arange(n) >= 60) & (roles == "in_set"), "threshold": roles == "threshold",
             "measure": roles == "measure", "language": np.where(roles == "measure", "Czech", "x")}
    scrambled = {**split, "features": np.where((roles == "measure")[:, None], 100 * rng.normal(size=(n, 5)), features),
                 "top": np.where(roles == "measure", 0.0, split["top"])}
    for rule in (bench.whisper_rule, bench.closed_set_rule):
        a, b = rule(split), rule(scrambled)
        assert (a["chosen_rejected"], a["kept_correct"]) == (b["chosen_rejected"], b["kept_correct"])


def test_trainer_choice_never_reads_the_measure_languages():
    """choose_whisper_open_set: scrambling measure-role clips changes the report, never the rule."""
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, 300)
    train = np.eye(6)[labels] + 0.1 * rng.normal(size=(300, 6))
    centres = open_set.centroids(train, labels, 3)
    top, emb, predicted, whisper = _synthetic(rng, 160, unknown=False)
    in_set = {"top": top, "embedding": emb, "predicted": predicted, "correct": rng.uniform(size=160) < 0.95,
              "whisper": whisper, "choose": np.arange(160) < 80}
    parts = [_synthetic(rng, 40, unknown=True) for _ in range(2)]
    out = {k: np.concatenate([p[i] for p in parts])
           for i, k in enumerate(("top", "embedding", "predicted", "whisper"))}
    out.update(role=np.array(["threshold"] * 40 + ["measure"] * 40),
               language=np.array(["Italian"] * 40 + ["Czech"] * 40))
    params, report = open_set_whisper.choose_whisper_open_set(LANGS, train, labels, centres, in_set, out)
    measure = out["role"] == "measure"
    noise = rng.normal(size=out["embedding"].shape)
    scrambled = {**out, "embedding": np.where(measure[:, None], noise, out["embedding"]),
                 "whisper": np.where(measure[:, None], _whisper({"en": 0.9}), out["whisper"])}
    params2, report2 = open_set_whisper.choose_whisper_open_set(LANGS, train, labels, centres, in_set, scrambled)
    assert params == params2 and report["chosen_on"] == report2["chosen_on"]
    assert report["per_language"]["Czech"] != report2["per_language"]["Czech"]
    assert report["chosen_on"]["out_of_set_clips"] == 40 and report["measured"]["out_of_set_examples"] == 40
    assert report["measured"]["out_of_set_rejected"] >= 0.9 and report["measured"]["in_set_kept_correct"] >= 0.8
