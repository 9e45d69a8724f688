"""After training, on held-out speakers: fit the calibration temperature and choose the
open-set threshold; write what was measured next to the model (Trainer's model_run folder)
and what serving needs inside the SavedModel (assets.extra/).

Held-out segments are split into two folds by speaker (the Transform's `speaker_bucket`, a hash
of the speaker id): models/calibration.py cross-fits the temperature over them; the open-set
thresholds are chosen on fold 0 plus the out-of-set `threshold` languages and measured on
fold 1 plus the out-of-set `measure` languages (data/open_set/). A model on the `whisper`
representation (its inputs hold Whisper's language log-probabilities and encoder features)
also gets the Whisper rule (models/open_set_whisper.py): fitted on the sampled training
segments (cross-fitted by speaker) and the `threshold` languages, thresholded with fold 0,
measured on fold 1 and the `measure` languages; serving applies it instead of the two
thresholds, which stay stored for callers without Whisper's outputs.
"""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tfx_bsl.public import tfxio

from contract import features
from models import calibration, open_set
from models.keras_model.signatures import EMBEDDING_LAYER, whisper_distribution

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_CENTROID_BATCHES = 40


def _heads(model) -> keras.Model:
    return keras.Model(model.input, {"probabilities": model.output,
                                     "embedding": model.get_layer(EMBEDDING_LAYER).output})


def score_split(fn_args, files, tf_transform_output, model, input_names, batch_size: int,
                max_batches: int | None = None) -> dict:
    """One pass over transformed examples: raw probabilities, embeddings, labels, speaker folds
    (and `whisper` [N, 99], `whisper_embedding` when the model reads Whisper's outputs). With
    `max_batches` (a sample), the examples are shuffled (seeded) so every language is in it."""
    dataset = fn_args.data_accessor.tf_dataset_factory(
        files, tfxio.TensorFlowDatasetOptions(batch_size=batch_size, num_epochs=1, shuffle=bool(max_batches),
                                              shuffle_seed=0),
        tf_transform_output.transformed_metadata.schema)
    if max_batches:
        dataset = dataset.take(max_batches)
    heads = _heads(model)
    whisper = features.WHISPER_LANGUAGE_XF in input_names
    parts = {"probabilities": [], "embedding": [], "label": [], "fold": []}
    parts |= {"whisper": [], "whisper_embedding": []} if whisper else {}
    for batch in dataset:
        out = heads({k: batch[k] for k in input_names}, training=False)
        parts["probabilities"].append(out["probabilities"].numpy())
        parts["embedding"].append(out["embedding"].numpy())
        if whisper:   # Whisper's distribution over its 99 languages and encoder features (the open-set rule)
            parts["whisper"].append(whisper_distribution(batch).numpy())
            parts["whisper_embedding"].append(batch[features.WHISPER_XF].numpy())
        parts["label"].append(tf.reshape(batch[features.LABEL_XF], [-1]).numpy())
        fold = batch.get(features.SPEAKER_BUCKET)
        parts["fold"].append(np.zeros(len(parts["label"][-1]), np.int64) if fold is None
                             else tf.reshape(fold, [-1]).numpy())
    return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in parts.items()}


def read_open_set_clips(folder: str, sample_rate: int) -> list[dict]:
    """The out-of-set clips of data/open_set/ (manifest rows + decoded waveform); bad ones skipped."""
    from audio.decode import DecodeError, decode_audio

    folder = folder if os.path.isabs(folder) else os.path.join(REPO_ROOT, folder)
    manifest = os.path.join(folder, "manifest.jsonl")
    if not os.path.exists(manifest):
        logging.warning("open set: no %s; the model gets no open-set threshold", manifest)
        return []
    clips = []
    with open(manifest, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                with open(os.path.join(folder, row["key"]), "rb") as audio:
                    clips.append({**row, "waveform": decode_audio(audio.read(), sample_rate)})
            except (OSError, DecodeError) as err:
                logging.warning("open set: skipping %s: %s", row["key"], err)
    return clips


def fit_calibration(held: dict, model_run_dir: str) -> dict:
    """Cross-fitted temperature and ECE; writes calibration.json and reliability_diagram.png."""
    logits = calibration.log_probabilities(held["probabilities"])
    result = calibration.cross_fit(logits, held["label"], held["fold"])
    calibration.plot_reliability(result["raw_probabilities"], result["calibrated_probabilities"], held["label"],
                                 os.path.join(model_run_dir, "reliability_diagram.png"), result["bins"])
    report = {k: v for k, v in result.items() if not k.endswith("_probabilities")}
    _write_json(os.path.join(model_run_dir, "calibration.json"), report)
    logging.info("calibration: T=%.3f, ECE %.4f -> %.4f", report["temperature"], report["ece_uncalibrated"],
                 report["ece"])
    return report


def choose_open_set(held: dict, train: dict, temperature: float, clips: list[dict], embed_fn,
                    languages: list[str], min_kept_correct: float) -> tuple[dict, dict] | None:
    """(parameters to store with the model, report) or None when there are no out-of-set clips.
    With Whisper's distribution in `held` and in `embed_fn`'s outputs, both also get `"whisper"`."""
    if not clips or len(held["label"]) == 0:
        return None
    centres = open_set.centroids(train["embedding"], train["label"], len(languages))
    probs = calibration.apply_temperature(calibration.log_probabilities(held["probabilities"]), temperature)
    predicted = probs.argmax(axis=1)
    in_top, in_distance = probs.max(axis=1), open_set.centroid_distance(held["embedding"], predicted, centres)
    in_correct = predicted == held["label"]
    out = {"top": [], "distance": [], "predicted": [], "whisper": [], "whisper_embedding": [], "role": [],
           "language": []}
    for clip in clips:
        result = embed_fn(waveform=tf.constant(clip["waveform"][None]))
        p, e = result["probabilities"].numpy()[0], result["embedding"].numpy()[0]
        out["top"].append(float(p.max()))
        out["predicted"].append(int(p.argmax()))
        out["distance"].append(float(open_set.centroid_distance(e, np.array([p.argmax()]), centres)[0]))
        if "whisper_language_probabilities" in result and "whisper_embedding" in result:
            out["whisper"].append(result["whisper_language_probabilities"].numpy()[0])
            out["whisper_embedding"].append(result["whisper_embedding"].numpy()[0])
        out["role"].append(clip["role"])
        out["language"].append(clip["language"])
    out = {k: np.asarray(v) for k, v in out.items()}
    folds, _ = calibration.two_folds(held["fold"])
    choose_in, measure_in = folds == 0, folds == 1
    choose_out, measure_out = out["role"] == "threshold", out["role"] == "measure"
    if not choose_out.any():
        return None
    chosen = open_set.choose_thresholds(in_top[choose_in], in_distance[choose_in], in_correct[choose_in],
                                        out["top"][choose_out], out["distance"][choose_out], min_kept_correct)
    measured = open_set.rates(in_top[measure_in], in_distance[measure_in], in_correct[measure_in],
                              out["top"][measure_out], out["distance"][measure_out],
                              chosen["min_probability"], chosen["max_distance"])
    per_language = {}
    for language in sorted(set(out["language"])):
        rows = out["language"] == language
        rejected = open_set.is_unknown(out["top"][rows], out["distance"][rows], chosen["min_probability"],
                                       chosen["max_distance"])
        per_language[language] = {"role": str(out["role"][rows][0]), "rejected": float(rejected.mean()),
                                  "clips": int(rows.sum())}
    params = {"languages": list(languages), "centroids": centres.tolist(),
              "min_probability": chosen["min_probability"], "max_distance": chosen["max_distance"],
              "temperature": temperature}
    report = {"min_probability": chosen["min_probability"], "max_distance": chosen["max_distance"],
              "chosen_on": {"in_set_segments": int(choose_in.sum()), "out_of_set_clips": int(choose_out.sum()),
                            "rejected": chosen["chosen_rejected"], "kept_correct": chosen["chosen_kept_correct"],
                            "min_kept_correct": chosen["min_kept_correct"]},
              "measured": measured, "per_language": per_language}
    if "whisper" in held and len(out["whisper"]) == len(clips):
        from models.open_set_whisper import choose_whisper_open_set
        from models.whisper.languages import UnknownLanguageName

        in_set = {"whisper_embedding": held["whisper_embedding"], "whisper": held["whisper"], "predicted": predicted,
                  "correct": in_correct, "choose": choose_in}
        train_predicted = train["probabilities"].argmax(axis=1)
        train_rows = {"whisper_embedding": train["whisper_embedding"], "whisper": train["whisper"],
                      "label": train["label"], "predicted": train_predicted,
                      "correct": train_predicted == train["label"], "group": train["fold"]}
        try:
            params["whisper"], report["whisper"] = choose_whisper_open_set(languages, train_rows, in_set, out,
                                                                           min_kept_correct)
        except (UnknownLanguageName, open_set.OpenSetError) as err:   # the two thresholds still hold
            logging.warning("open set: no Whisper rule: %s", err)
    logging.info("open set: %s", json.dumps(report))
    return params, report


def _write_json(path: str, value: dict) -> None:
    tmp = path + ".tmp"
    with tf.io.gfile.GFile(tmp, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
    tf.io.gfile.rename(tmp, path, overwrite=True)


def write_model_assets(serving_model_dir: str, model_run_dir: str, calibration_report: dict,
                       open_set_result: tuple[dict, dict] | None) -> None:
    """assets.extra/calibration.json (+ open_set.json) in the SavedModel; open_set.json report in model_run."""
    extra = os.path.join(serving_model_dir, "assets.extra")
    tf.io.gfile.makedirs(extra)
    _write_json(os.path.join(extra, "calibration.json"), calibration_report)
    if open_set_result is not None:
        params, report = open_set_result
        open_set.save_params(serving_model_dir, params)
        _write_json(os.path.join(model_run_dir, "open_set.json"), report)
