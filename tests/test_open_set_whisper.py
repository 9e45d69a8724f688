"""The open-set rule with Whisper's outputs (models/open_set_whisper.py, decided in
models/open_set.py), the language-name table (models/whisper/languages.py) and what
`predict --reject-unknown` prints with and without Whisper outputs."""
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


DIMS = 12   # encoder features of the synthetic clips: languages 0-2 in-set, 3-8 out of set


def _clips(rng, n: int, languages, speakers: int, voice: float = 0.6, first_speaker: int = 0) -> dict:
    """Synthetic clips: each language a direction of the encoder features, each speaker an offset
    shared by all its clips (voices vary more than one clip does); Whisper hears the in-set
    languages as themselves at 0.5, the others as Japanese (as it hears espeak-ng)."""
    language = np.asarray(languages)[rng.integers(0, len(languages), n)]
    speaker = rng.integers(0, speakers, n)
    offsets = np.random.default_rng(1000 + first_speaker).normal(size=(speakers, DIMS)) * voice
    f = 3.0 * np.eye(DIMS)[language] + offsets[speaker] + 0.3 * rng.normal(size=(n, DIMS))
    heard = rng.uniform(0.3, 0.6, n)
    whisper = np.stack([_whisper({IN_CODES[k]: p} if k < 3 else {"ja": p}) for k, p in zip(language, heard)])
    predicted = np.where(language < 3, language, rng.integers(0, 3, n))
    return {"f": f, "whisper": whisper, "language": language, "predicted": predicted,
            "group": speaker + first_speaker, "x": open_set_whisper.rule_inputs(f, whisper)}


def _choose(rng, folds: int = open_set_whisper.DEFAULT_FOLDS, min_kept_correct: float = 0.95):
    train = _clips(rng, 300, [0, 1, 2], speakers=10)
    other = _clips(rng, 60, [3, 4], speakers=4, first_speaker=50)          # the `threshold` languages
    choose = _clips(rng, 60, [0, 1, 2], speakers=2, first_speaker=20)
    return open_set_whisper.choose_rule(
        {"x": train["x"], "label": train["language"], "predicted": train["predicted"],
         "correct": np.ones(300, bool), "group": train["group"]}, other["x"],
        {"x": choose["x"], "predicted": choose["predicted"], "correct": np.ones(60, bool)}, IN_CODES, min_kept_correct,
        folds)


@pytest.fixture(scope="module")
def chosen_rule():
    rule = _choose(np.random.default_rng(0))
    rng = np.random.default_rng(1)
    train = _clips(rng, 300, [0, 1, 2], speakers=10)
    centres = open_set.centroids(train["f"], train["language"], 3)
    params = {"languages": LANGS, "centroids": centres, "min_probability": 0.0, "max_distance": 2.0,
              "whisper": rule}
    return rule, params


def test_rule_keeps_new_speakers_and_rejects_languages_it_never_saw(chosen_rule):
    rule, params = chosen_rule
    rng = np.random.default_rng(2)                    # new speakers and new languages, never seen by the choice
    new_in = _clips(rng, 200, [0, 1, 2], speakers=4, first_speaker=30)
    new_out = _clips(rng, 200, [5, 6, 7, 8], speakers=4, first_speaker=40)
    assert open_set_whisper.whisper_is_unknown(new_in["x"], new_in["predicted"], rule).mean() <= 0.1
    assert open_set_whisper.whisper_is_unknown(new_out["x"], new_out["predicted"], rule).mean() >= 0.9
    assert rule["reference_clips"] == 360 and rule["reference_kept_correct"] >= 0.95
    assert params["whisper"]["codes"] == list(IN_CODES) and params["whisper"]["kind"] == open_set_whisper.RULE_KIND


def _without_sure(rule: dict) -> dict:
    """`rule` as stored before Whisper's sureness clause: the score alone decides."""
    return {k: v for k, v in rule.items() if k != "whisper_sure_outside"}


def _as_two_terms(rule: dict) -> dict:
    """`rule` as stored before Whisper's surprise: no "terms", two standardisations, no clause."""
    return {**{k: v for k, v in _without_sure(rule).items() if k != "terms"}, "standardise": rule["standardise"][:2]}


def _misheard(rng, clips: dict) -> dict:
    """`clips` as Whisper hears espeak-ng voices: in-set languages as themselves half the time,
    else as Latin; out-of-set ones half the time as one of the model's languages."""
    heard = []
    for k in clips["language"]:
        p, right = rng.uniform(0.3, 0.6), rng.uniform() < 0.5
        code = (IN_CODES[k] if right else "la") if k < 3 else (IN_CODES[rng.integers(0, 3)] if right else "ja")
        heard.append(_whisper({code: p}))
    whisper = np.stack(heard)
    return {**clips, "whisper": whisper, "x": open_set_whisper.rule_inputs(clips["f"], whisper)}


def test_whisper_hearing_another_language_rejects_what_the_scorers_let_through():
    """Trained where Whisper mishears the voices (as it does espeak-ng), the background class and
    the distance let many out-of-set clips through; when Whisper hears such a clip as its own
    language (a human voice), Whisper's surprise at the model's answer rejects it. Voices the
    rule never saw, of known languages, stay."""
    rng = np.random.default_rng(0)
    train = _misheard(rng, _clips(rng, 300, [0, 1, 2], speakers=10))
    other = _misheard(rng, _clips(rng, 60, [3, 4], speakers=4, first_speaker=50))
    choose = _misheard(rng, _clips(rng, 60, [0, 1, 2], speakers=2, first_speaker=20))
    rule = open_set_whisper.choose_rule(
        {"x": train["x"], "label": train["language"], "predicted": train["predicted"],
         "correct": np.ones(300, bool), "group": train["group"]}, other["x"],
        {"x": choose["x"], "predicted": choose["predicted"], "correct": np.ones(60, bool)}, IN_CODES)
    two_terms = _as_two_terms(rule)
    rng = np.random.default_rng(7)
    new_in = _misheard(rng, _clips(rng, 200, [0, 1, 2], speakers=4, first_speaker=60))
    human_out = _clips(rng, 200, [5, 6, 7, 8], speakers=4, first_speaker=80)
    human_out["whisper"] = np.stack([_whisper({("it", "pt", "nl", "sv")[k - 5]: 0.95}) for k in human_out["language"]])
    human_out["x"] = open_set_whisper.rule_inputs(human_out["f"], human_out["whisper"])
    rejected = {name: open_set_whisper.whisper_is_unknown(human_out["x"], human_out["predicted"], r).mean()
                for name, r in (("three", _without_sure(rule)), ("two", two_terms))}
    assert rejected["three"] >= 0.85 and rejected["three"] - rejected["two"] >= 0.3, rejected
    assert open_set_whisper.whisper_is_unknown(new_in["x"], new_in["predicted"], rule).mean() <= 0.1


def test_whisper_sure_of_a_language_outside_rejects_what_the_score_keeps():
    """The clause's level is the most Whisper gave a language outside the model's on a correct
    reference answer (wrong answers do not count), so it rejects none of those; above it a clip is
    unknown whatever its score, and decide() says why. A rule stored without it never applies it."""
    rng = np.random.default_rng(0)
    train = _misheard(rng, _clips(rng, 300, [0, 1, 2], speakers=10))
    other = _misheard(rng, _clips(rng, 60, [3, 4], speakers=4, first_speaker=50))
    choose = _misheard(rng, _clips(rng, 60, [0, 1, 2], speakers=2, first_speaker=20))
    correct = np.ones(300, bool)
    outside = open_set_whisper.whisper_outside_top(train["x"], IN_CODES)
    loudest = int(np.argmax(outside))
    train["whisper"][loudest] = _whisper({"ko": 0.99})        # a wrong answer Whisper is sure is Korean
    train["x"] = open_set_whisper.rule_inputs(train["f"], train["whisper"])
    correct[loudest] = False
    rule = open_set_whisper.choose_rule(
        {"x": train["x"], "label": train["language"], "predicted": train["predicted"], "correct": correct,
         "group": train["group"]}, other["x"],
        {"x": choose["x"], "predicted": choose["predicted"], "correct": np.ones(60, bool)}, IN_CODES)
    reference = np.concatenate([train["x"][correct], choose["x"]])
    expected = max(open_set_whisper.whisper_outside_top(reference, IN_CODES).max(), open_set_whisper.SURE_FLOOR)
    assert rule["whisper_sure_outside"] == pytest.approx(expected) and 0.5 <= expected < 0.99
    assert not open_set_whisper.whisper_sure_outside(reference, rule).any()
    clip = _clips(np.random.default_rng(11), 1, [0], speakers=1, first_speaker=99)
    lenient = {**rule, "threshold": 1e9}                          # the score keeps everything
    for p, unknown in ((expected + 0.01, True), (expected - 0.01, False)):
        x = open_set_whisper.rule_inputs(clip["f"], _whisper({"it": p})[None])
        assert open_set_whisper.whisper_is_unknown(x, clip["predicted"], lenient)[0] == unknown
        assert not open_set_whisper.whisper_is_unknown(x, clip["predicted"], _without_sure(lenient))[0]
    params = {"languages": LANGS, "centroids": np.eye(DIMS)[:3], "min_probability": 0.0, "max_distance": 9.0,
              "whisper": lenient}
    italian = _whisper({"it": expected + 0.01})
    out = open_set.decide({"English": 0.9, "French": 0.05, "Mandarin": 0.05}, clip["f"][0], params,
                          whisper_probabilities=italian, whisper_embedding=clip["f"][0])
    assert out["language"] == open_set.UNKNOWN and "outside the model's" in out["unknown_reason"]
    assert out["unknown_guess"] == "Italian"


def test_a_stored_two_term_rule_scores_as_it_was_chosen(chosen_rule):
    """A rule without "terms" (stored before Whisper's surprise) sums its two terms only."""
    rule, _ = chosen_rule
    old = _as_two_terms(rule)
    clips = _clips(np.random.default_rng(8), 50, [0, 1, 2, 5], speakers=3, first_speaker=90)
    background, distance = open_set_whisper.raw_scores(clips["x"], clips["predicted"], rule["scorers"])
    (mb, sb), (md, sd) = old["standardise"]
    np.testing.assert_allclose(open_set_whisper.rule_score(clips["x"], clips["predicted"], old),
                               (background - mb) / sb + (distance - md) / sd)
    surprise = open_set_whisper.whisper_surprise(clips["x"], clips["predicted"], IN_CODES)
    (ms, ss) = rule["standardise"][2]
    np.testing.assert_allclose(open_set_whisper.rule_score(clips["x"], clips["predicted"], rule),
                               (background - mb) / sb + (distance - md) / sd + (surprise - ms) / ss)


def test_reference_scores_come_from_scorers_that_never_saw_the_speaker():
    """Training clips scored by scorers that saw them look more in-set than a new speaker's do,
    so each is scored by scorers fitted without its speaker group."""
    rng = np.random.default_rng(3)
    train, other = _clips(rng, 200, [0, 1, 2], speakers=5), _clips(rng, 40, [3, 4], speakers=2, first_speaker=50)
    background, distance = open_set_whisper.cross_fitted_scores(train["x"], train["language"], train["predicted"],
                                                                train["group"], other["x"], 3, folds=5)
    for group in range(5):
        rows = train["group"] == group
        alone = open_set_whisper.fit_scorers(train["x"][~rows], train["language"][~rows], other["x"], 3)
        expected = open_set_whisper.raw_scores(train["x"][rows], train["predicted"][rows], alone)
        np.testing.assert_allclose(background[rows], expected[0], rtol=1e-6)
        np.testing.assert_allclose(distance[rows], expected[1], rtol=1e-6)
    seen = open_set_whisper.raw_scores(train["x"], train["predicted"],
                                       open_set_whisper.fit_scorers(train["x"], train["language"], other["x"], 3))
    assert distance.mean() > seen[1].mean()          # unseen speakers sit further from their language


def test_threshold_keeps_the_asked_share_of_correct_answers():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=200)
    correct = rng.uniform(size=200) < 0.9
    for floor in (0.8, 0.95, 1.0):
        threshold = open_set_whisper._kept_threshold(scores, correct, floor)
        kept = (scores <= threshold) & correct
        assert kept.sum() >= np.ceil(floor * correct.sum() - 1e-9)
        assert kept.sum() - 1 < floor * correct.sum()   # the lowest such threshold: one less would not do


def test_decide_names_the_guess_only_when_unknown(chosen_rule, tmp_path):
    _, params = chosen_rule
    open_set.save_params(str(tmp_path), {**params, "centroids": params["centroids"].tolist()})
    stored = open_set.load_params(str(tmp_path))
    assert json.loads((tmp_path / open_set.PARAMS_FILE).read_text())["version"] == open_set.PARAMS_VERSION
    rng = np.random.default_rng(5)
    known = 3.0 * np.eye(DIMS)[0]                   # an English clip without a voice of its own
    probs = {"English": 0.9, "French": 0.05, "Mandarin": 0.05}
    out = open_set.decide(probs, known, stored, whisper_probabilities=_whisper({"en": 0.5}), whisper_embedding=known)
    assert out["language"] == "English" and "unknown_guess" not in out
    unseen = _clips(rng, 1, [6], speakers=1, first_speaker=71)
    italian = _whisper({"en": 0.05, "it": 0.7, "zh": 0.05})
    out = open_set.decide(probs, unseen["f"][0], stored, whisper_probabilities=italian,
                          whisper_embedding=unseen["f"][0])
    assert out["language"] == open_set.UNKNOWN and "open-set score" in out["unknown_reason"]
    assert out["unknown_guess"] == "Italian" and out["unknown_guess_probability"] == pytest.approx(0.7)


def test_guess_is_never_one_of_the_models_languages():
    w = _whisper({"en": 0.6, "zh": 0.2, "pt": 0.1})
    assert open_set_whisper.unknown_guess(w, wl.indices_for(LANGS)) == {"unknown_guess": "Portuguese",
                                                               "unknown_guess_probability": pytest.approx(0.1)}


def test_without_whisper_outputs_the_two_thresholds_decide(chosen_rule):
    _, params = chosen_rule
    strict = {**params, "min_probability": 0.95}
    out = open_set.decide({"English": 0.9, "French": 0.05, "Mandarin": 0.05}, np.eye(DIMS)[0], strict)
    assert out["language"] == open_set.UNKNOWN and "top probability" in out["unknown_reason"]
    assert "unknown_guess" not in out


@pytest.mark.parametrize("change, message", [({"codes": ["en", "fr", "de"]}, "codes"),
                                             ({"kind": "five_signal_logistic"}, "re-run the pipeline"),
                                             ({"terms": ["background", "whisper_surprise"]}, "terms"),
                                             ({"whisper_sure_outside": 0.2}, "whisper_sure_outside")])
def test_stored_rule_for_other_languages_or_of_another_kind_is_refused(chosen_rule, tmp_path, change, message):
    _, params = chosen_rule
    bad = {**params, "centroids": params["centroids"].tolist(), "whisper": {**params["whisper"], **change}}
    open_set.save_params(str(tmp_path), bad)
    with pytest.raises(open_set.OpenSetError, match=message):
        open_set.load_params(str(tmp_path))


# --- the CLI ---------------------------------------------------------------------------------

RATE, WINDOW_S, HOP_S = 16_000, 1.0, 0.5


class FakeModel:
    """A backend whose every window answers English at 0.6 from an embedding far from every
    class, with (or without) Whisper's outputs: its distribution saying Italian, and encoder
    features of a language the rule never saw."""

    def __init__(self, path: str, whisper: bool):
        self.path, self.whisper = path, whisper
        self.unseen = _clips(np.random.default_rng(6), 1, [7], speakers=1, first_speaker=80)["f"][0]

    def analyse(self, waveform, sample_rate, embeddings=False):
        from contract.geometry import serving_window_count

        n = serving_window_count(len(waveform), int(WINDOW_S * RATE), int(HOP_S * RATE))
        out = {"window_seconds": np.float32(WINDOW_S), "hop_seconds": np.float32(HOP_S), "sample_rate": RATE,
               "languages": np.array([s.encode() for s in LANGS]),
               "window_probabilities": np.tile([0.6, 0.3, 0.1], (n, 1)), "window_weight": np.ones(n),
               "window_start_s": np.arange(n) * HOP_S, "window_end_s": np.arange(n) * HOP_S + WINDOW_S,
               "window_speech": np.ones(n)}
        if embeddings:
            out["window_embeddings"] = np.tile(np.eye(DIMS)[0] + 0.8 * np.eye(DIMS)[4], (n, 1))
        if self.whisper:
            out["window_whisper_language_probabilities"] = np.tile(_whisper({"en": 0.05, "it": 0.7}), (n, 1))
            if embeddings:
                out["window_whisper_embeddings"] = np.tile(self.unseen, (n, 1))
        return out


@pytest.mark.parametrize("whisper", [True, False])
def test_cli_prints_the_guess_when_the_model_gives_whispers_outputs(chosen_rule, tmp_path, monkeypatch, capsys,
                                                                    whisper):
    from serving import cli

    _, params = chosen_rule
    model_dir = tmp_path / "model"
    centres = np.eye(DIMS)[:3]
    open_set.save_params(str(model_dir), {**params, "centroids": centres.tolist(), "max_distance": 0.1})
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


def _bench_split(rng) -> dict:
    """What bench/open_set_whisper.one_seed gives, for synthetic clips."""
    parts = [_clips(rng, 120, [0, 1, 2], speakers=6), _clips(rng, 40, [0, 1, 2], speakers=1, first_speaker=20),
             _clips(rng, 40, [0, 1, 2], speakers=1, first_speaker=21),
             _clips(rng, 40, [3, 4], speakers=2, first_speaker=30),
             _clips(rng, 40, [5, 6], speakers=2, first_speaker=40)]
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n, part = len(cat["x"]), np.repeat(np.arange(5), 40 * np.array([3, 1, 1, 1, 1]))
    return {"x": cat["x"], "whisper": cat["whisper"], "in_set_indices": wl.indices_for(LANGS), "codes": IN_CODES,
            "top": rng.uniform(0.4, 1, n), "distance": rng.uniform(0, 1, n), "predicted": cat["predicted"],
            "label": np.where(cat["language"] < 3, cat["language"], -1), "speaker": cat["group"],
            "correct": cat["language"] < 3, "train": part == 0, "choose_in": part == 1, "measure_in": part == 2,
            "threshold": part == 3, "measure": part == 4,
            "language": np.select([part == 4, (part == 3) & (cat["language"] == 3), part == 3],
                                  ["Czech", "Italian", "Dutch"], "in-set")}


def test_offline_choice_never_reads_the_measure_languages():
    """bench/open_set_whisper.py: scrambling the measure-role clips changes nothing chosen."""
    from bench import open_set_whisper as bench

    rng = np.random.default_rng(3)
    split = _bench_split(rng)
    measure = split["measure"]
    scrambled = {**split, "top": np.where(measure, 0.0, split["top"])}
    for key in ("x", "whisper", "predicted"):        # the measure clips replaced by in-set voices
        scrambled[key] = split[key].copy()
        scrambled[key][measure] = split[key][split["measure_in"]]
    for rule in (bench.whisper_rule, bench.whisper_mass_rule, bench.closed_set_rule):
        a, b = rule(split), rule(scrambled)
        assert (a["chosen_rejected"], a["kept_correct"]) == (b["chosen_rejected"], b["kept_correct"])
        assert a["rejected"] != b["rejected"] or rule is not bench.whisper_rule
    held_out = bench.leave_one_out(split)             # each threshold language measured without it
    assert sorted(held_out) == ["Dutch", "Italian"] and held_out == bench.leave_one_out(scrambled)


def test_trainer_choice_never_reads_the_measure_languages():
    """choose_whisper_open_set: scrambling measure-role clips changes the report, never the rule."""
    rng = np.random.default_rng(4)
    train = _clips(rng, 300, [0, 1, 2], speakers=10)
    held = _clips(rng, 160, [0, 1, 2], speakers=8, first_speaker=20)
    thr, meas = _clips(rng, 40, [3, 4], speakers=2, first_speaker=30), _clips(rng, 40, [5, 6], speakers=2,
                                                                               first_speaker=40)
    train_rows = {"whisper_embedding": train["f"], "whisper": train["whisper"], "label": train["language"],
                  "predicted": train["predicted"], "correct": np.ones(300, bool), "group": train["group"]}
    in_set = {"whisper_embedding": held["f"], "whisper": held["whisper"], "predicted": held["predicted"],
              "correct": rng.uniform(size=160) < 0.95, "choose": held["group"] < 24}
    out = {k: np.concatenate([thr[k], meas[k]]) for k in ("whisper", "predicted")}
    out.update(whisper_embedding=np.concatenate([thr["f"], meas["f"]]), role=np.array(["threshold"] * 40 +
               ["measure"] * 40), language=np.array(["Italian"] * 40 + ["Czech"] * 40))
    params, report = open_set_whisper.choose_whisper_open_set(LANGS, train_rows, in_set, out)
    measure = out["role"] == "measure"
    scrambled = {**out, "whisper_embedding": np.where(measure[:, None], rng.normal(size=out["whisper_embedding"].shape),
                                                      out["whisper_embedding"]),
                 "whisper": np.where(measure[:, None], _whisper({"en": 0.9}), out["whisper"])}
    params2, report2 = open_set_whisper.choose_whisper_open_set(LANGS, train_rows, in_set, scrambled)
    assert params == params2 and report["chosen_on"] == report2["chosen_on"]
    assert report["per_language"]["Czech"] != report2["per_language"]["Czech"]
    assert report["chosen_on"]["out_of_set_clips"] == 40 and report["measured"]["out_of_set_examples"] == 40
    assert report["chosen_on"]["whisper_sure_outside"] == params["whisper_sure_outside"]
    assert report["measured"]["out_of_set_rejected"] >= 0.9 and report["measured"]["in_set_kept_correct"] >= 0.8


def test_a_column_constant_in_training_cannot_decide_alone(chosen_rule):
    """A deviation in one input, however extreme (a Whisper language no training clip evoked: its
    log-probability sits at the floor in every row, its deviation ~0), counts no more than 8
    deviations: standardised inputs are clipped, so that one column cannot decide the score."""
    rule, _ = chosen_rule
    clips = _clips(np.random.default_rng(9), 20, [0, 1, 2], speakers=2, first_speaker=95)
    mean, scale = np.asarray(rule["scorers"]["mean"]), np.asarray(rule["scorers"]["scale"])
    column = DIMS + wl.CODES.index("ko")
    at_bound, extreme = clips["x"].copy(), clips["x"].copy()
    at_bound[:, column] = mean[column] + open_set_whisper.MAX_Z * scale[column]
    extreme[:, column] = mean[column] + 1e6 * scale[column]
    np.testing.assert_allclose(open_set_whisper.raw_scores(extreme, clips["predicted"], rule["scorers"])[0],
                               open_set_whisper.raw_scores(at_bound, clips["predicted"], rule["scorers"])[0])
    assert open_set_whisper.whisper_is_unknown(clips["x"], clips["predicted"], rule).mean() <= 0.1
