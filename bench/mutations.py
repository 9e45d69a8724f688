"""Mutation check: break one capability at a time in a copy of the repository, run its tests.

(Long because MUTATIONS is the whole table, one row per breakage; the runner is short.)

A test suite is worth what it catches. Each entry of MUTATIONS names a capability README
promises, one small deliberate breakage of the code that provides it (an exact snippet and
its replacement) and the pytest selection that covers it. For each entry, one at a time:
copy the repository's files to a temporary folder, apply the breakage there (the working
tree is never touched), run the selection, restore. "killed" means the tests failed, as they
must; "survived" means the suite would not notice the capability going away; "stale" means
the snippet is no longer in the file (the code moved on: refresh the entry); "unreached"
means the selection, run unbroken, never executes the mutated line (bench/reach.py), so no
assertion in it can notice the breakage: point it at the tests that do. Anything but
"killed" is an error, and the exit status is 1.

    python -m bench.mutations              # all of them (the whole-pipeline ones take minutes)
    python -m bench.mutations --list       # the table; exit status 1 if an entry is stale or unreached
    python -m bench.mutations --check-reach  # the table, after running each selection (unbroken) whose
                                             # reach is not cached, to see it executes its line
    python -m bench.mutations --only pooling_weights_0_1 --only spec_augment_not_in_training
    python -m bench.mutations --jobs 2     # two mutations at a time, each in its own copy
    python -m bench.mutations --baseline   # first check that each selection passes unbroken

Writes mutations.json (killed, survived, and one record per mutation). Kept out of `make test`:
see docs/testing.md for what it covers and how long it takes.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from bench import reach

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Mutation:
    name: str
    capability: str
    file: str          # relative to the repository root
    original: str      # must occur exactly once in the file
    replacement: str
    tests: tuple[str, ...]   # pytest arguments, relative to the repository root


def M(name, capability, file, original, replacement, *tests):  # noqa: N802 - a table row, read as one
    return Mutation(name, capability, file, original, replacement, tuple(tests))


MUTATIONS: list[Mutation] = [
    # -- pretrained Whisper-base (models/whisper) -------------------------------------------------
    M("zero_shot_weight_ignored", "Whisper zero-shot combination", "models/keras_model/model.py",
      "return self.weight * tf.where(known, restricted, tf.zeros_like(restricted))",
      "return tf.where(known, restricted, tf.zeros_like(restricted))",
      "tests/test_whisper_transfer.py::test_zero_shot_prior_is_the_log_softmax_over_the_known_user_languages_in_their_order"),
    M("zero_shot_wrong_language_order", "Whisper zero-shot combination", "models/keras_model/model.py",
      "chosen = tf.gather(log_probs, self.indices, axis=-1)",
      "chosen = tf.gather(log_probs, self.indices[::-1], axis=-1)",
      "tests/test_whisper_transfer.py::test_zero_shot_prior_is_the_log_softmax_over_the_known_user_languages_in_their_order"),
    M("zero_shot_prior_gradient_flows", "Whisper zero-shot combination", "models/keras_model/model.py",
      "log_probs = tf.stop_gradient(tf.convert_to_tensor(log_probs, tf.float32))",
      "log_probs = tf.convert_to_tensor(log_probs, tf.float32)",
      "tests/test_whisper_transfer.py::test_zero_shot_prior_is_the_log_softmax_over_the_known_user_languages_in_their_order"),
    M("encoder_weights_unchecked_by_runner", "Whisper weights preflight", "pipeline/flags.py",
      "        verify(config.features.encoder_weights or None)", "        pass",
      "tests/test_whisper_transfer.py::test_bad_weights_stop_the_runner_before_any_component_with_exit_status_2"),
    M("whisper_features_not_from_the_encoder", "whisper representation in Transform", "models/preprocessing.py",
      "        outputs.update(whisper)",
      "        outputs.update({k: tf.nn.log_softmax(v) for k, v in whisper.items()})",
      "tests/test_whisper_transfer.py::test_transform_computes_pooled_whisper_features_and_language_log_probabilities"),
    M("whisper_frontend_rfft_not_in_tflite", "export-tflite of a whisper model", "models/whisper/frontend.py",
      'real = tf.einsum("btn,nf->btf", windowed, tf.constant(cos))',
      "real = tf.math.real(tf.signal.rfft(windowed))",
      "tests/test_whisper_transfer.py::test_whisper_features_run_in_tflite_as_in_tensorflow"),
    M("whisper_weights_hash_unchecked", "Whisper weights", "models/whisper/weights.py",
      "    if got != sha:", "    if False:",
      "tests/test_whisper_weights.py"),
    M("whisper_positions_shifted", "Whisper encoder", "models/whisper/encoder.py",
      'c["positions"][: tf.shape(x)[1]]', 'c["positions"][1: tf.shape(x)[1] + 1]',
      "tests/test_whisper_parity.py::test_encoder_matches_ctranslate2_on_windows"),
    M("whisper_log_mel_range", "Whisper log-mel", "models/whisper/frontend.py",
      "peak - 8.0", "peak - 9.0",
      "tests/test_whisper_parity.py", "-k", "log_mel"),
    # the whisper representation end to end: one tiny pipeline run (conftest whisper_pipeline_run)
    M("whisper_pooled_output_dropped", "serving signatures of a whisper model", "models/keras_model/signatures.py",
      'result.update({"whisper_language_probabilities": pooled["whisper_language_probabilities"],',
      "result.update({",
      "tests/test_whisper_pipeline_e2e.py::test_every_signature_answers_whisper_languages_and_scores"),
    M("whisper_window_output_dropped", "REST/gRPC clients of a whisper model", "models/keras_model/signatures.py",
      '"window_whisper_language_probabilities": per_window["whisper_language_probabilities"],', "",
      "tests/test_whisper_serving_clients.py::test_clients_get_whispers_languages_and_the_in_process_answer"),
    M("zero_shot_term_ignored_at_serving", "Whisper zero-shot combination at serving",
      "models/keras_model/signatures.py",
      "        out = heads(inputs, training=False)",
      "        out = heads({k: tf.zeros_like(v) if k == features.WHISPER_LANGUAGE_XF else v"
      " for k, v in inputs.items()}, training=False)",
      "tests/test_whisper_pipeline_e2e.py::test_served_probabilities_are_the_head_plus_the_weighted_zero_shot_term"),
    M("whisper_pooling_setting_ignored", "whisper representation in Transform", "models/preprocessing.py",
      "WindowFeatures(config.encoder_weights or None, config.whisper_pooling)",
      'WindowFeatures(config.encoder_weights or None, "mean")',
      "tests/test_whisper_pipeline_e2e.py::test_transformed_examples_carry_the_pooled_encoder_features_in_a_few_kilobytes"),
    # -- ingestion ----------------------------------------------------------------------------
    M("decode_no_resample", "decoding", "audio/decode.py",
      "    if rate != sample_rate:\n", "    if False:\n",
      "tests/test_segment_and_decode.py"),
    M("decode_accepts_html", "decoding", "audio/decode.py",
      "    if head.startswith(_TEXT_PREFIXES):", "    if False:",
      "tests/test_segment_and_decode.py"),
    M("trim_keeps_leading_silence", "trimming", "audio/speech.py",
      "return waveform[active[0] * size: (active[-1] + 1) * size]", "return waveform[: (active[-1] + 1) * size]",
      "tests/test_speech.py::test_trim_keeps_the_active_span_only"),
    M("trim_keeps_trailing_silence", "trimming", "audio/speech.py",
      "return waveform[active[0] * size: (active[-1] + 1) * size]", "return waveform[active[0] * size:]",
      "tests/test_speech.py::test_trim_keeps_the_active_span_only"),
    M("segment_drops_last_window", "segmentation", "contract/geometry.py",
      "        starts.append(starts[-1] + hop)", "        pass",
      "tests/test_geometry.py", "tests/test_ingestion_speech.py"),
    M("segment_hop_is_window", "segmentation", "contract/geometry.py",
      "range(0, max(total - window, 0) + 1, hop)",
      "range(0, max(total - window, 0) + 1, window)",
      "tests/test_geometry.py", "tests/test_ingestion_speech.py"),
    M("ingestion_keeps_no_speech_windows", "trimming", "components/s3_audio_example_gen/fetch_segment.py",
      "if speech.window_has_speech(segment[:real], self._rate):", "if True:",
      "tests/test_ingestion_speech.py"),
    M("speaker_split_per_clip", "speaker split", "components/speaker_split.py",
      'return stem.split("__", 1)[0] if "__" in stem else stem', "return stem",
      "tests/test_ingestion.py::test_speaker_falls_back_to_file_name_without_manifest"),
    M("speaker_split_unseeded", "speaker split", "components/speaker_split.py",
      'hashlib.sha256(f"{seed}:{speaker_id}"', 'hashlib.sha256(f"{speaker_id}"',
      "tests/test_ingestion.py::test_same_seed_same_split_other_seed_other_split"),
    # -- augmentation (one per family) ---------------------------------------------------------
    M("per_language_unknown_accepted", "augmentation: per-language policy", "config/groups.py",
      "        _check(not unknown, \"--augmentation\",", "        _check(True, \"--augmentation\",",
      "tests/test_pipeline_definition.py"),
    M("time_mask_noop", "augmentation: time mask", "audio/augment/timing.py",
      "    w[start: start + length] = 0.0\n", "",
      "tests/test_augment_timing.py"),
    M("high_pass_noop", "augmentation: high-pass", "audio/augment/spectral.py",
      "return scipy.signal.sosfiltfilt(sos, w, padlen=padlen).astype(np.float32)", "return w.astype(np.float32)",
      "tests/test_augment_spectral.py"),
    M("white_noise_wrong_snr", "augmentation: white noise", "audio/augment/additive_noise.py",
      "rng.standard_normal(w.shape[0]), snr_db)", "rng.standard_normal(w.shape[0]), snr_db + 6.0)",
      "tests/test_augment_noise_room.py"),
    M("pitch_scale_noop", "augmentation: pitch scaling", "audio/augment/pitch_speed.py",
      "y = soxr.resample(w, sample_rate * ratio, sample_rate, quality=\"HQ\")", "y = w",
      "tests/test_augment_pitch_speed.py"),
    M("polarity_not_inverted", "augmentation: polarity inversion", "audio/augment/level.py",
      "return (-as_waveform(waveform)).astype(np.float32)", "return as_waveform(waveform).astype(np.float32)",
      "tests/test_augment_level.py"),
    M("volume_ramp_flat", "augmentation: volume ramp", "audio/augment/level.py",
      "np.linspace(float(start_db), float(end_db), w.shape[0])", "np.full(w.shape[0], float(start_db))",
      "tests/test_augment_level.py"),
    M("time_shift_rolls", "augmentation: time shift", "audio/augment/timing.py",
      "        out[shift:] = w[: n - shift]\n", "        out = np.roll(w, shift)\n",
      "tests/test_augment_timing.py"),
    M("time_stretch_resamples", "augmentation: time stretch", "audio/augment/pitch_speed.py",
      "y = spectral_effects.time_stretch(w, rate)", "y = soxr.resample(w, sample_rate * rate, sample_rate)",
      "tests/test_augment_pitch_speed.py"),
    M("background_noise_offset_ignored", "augmentation: background noise", "audio/noise.py",
      "start = int(offset_fraction * noise.shape[0]) % noise.shape[0]", "start = 0",
      "tests/test_augment_noise_room.py"),
    M("reverb_rt60_ignored", "augmentation: room reverb", "audio/reverb.py",
      "np.exp(-3.0 * math.log(10.0) * t / rt60_s)", "np.exp(-3.0 * math.log(10.0) * t / 0.3)",
      "tests/test_augment_noise_room.py"),
    M("vtlp_warp_identity", "augmentation: VTLP", "audio/spectral_effects.py",
      "return np.where(f <= knee, f * alpha, upper)", "return f",
      "tests/test_augment_spectral.py"),
    M("random_crop_in_place", "augmentation: random crop", "audio/augment/timing.py",
      "return np.pad(piece, (0, n - length)).astype(np.float32)",
      "return np.pad(piece, (start, n - length - start)).astype(np.float32)",
      "tests/test_augment_timing.py"),
    M("random_gain_ignored", "augmentation: random gain", "audio/augment/level.py",
      "def apply_gain(waveform: Any, gain_db: float) -> np.ndarray:",
      "def apply_gain(waveform: Any, gain_db: float) -> np.ndarray:\n    gain_db = 0.0",
      "tests/test_augment_level.py"),
    M("per_language_override_ignored", "augmentation: per-language policy", "audio/augment/policy.py",
      "    def for_language(self, language: str | None) -> AugmentationConfig:",
      "    def for_language(self, language: str | None) -> AugmentationConfig:\n        language = None",
      "tests/test_augment_policy.py", "-k", "per_language"),
    # -- features and training ----------------------------------------------------------------
    M("spec_augment_time_masks_removed", "SpecAugment", "models/keras_model/spec_augment.py",
      " * _masks(shape, 1, time_masks, time_width)", "",
      "tests/test_spec_augment.py"),
    M("spec_augment_not_in_training", "SpecAugment", "models/keras_model/trainer.py",
      "if spec_augment_config and maskable:", "if False:",
      "tests/test_trainer_input.py"),
    M("waveform_rep_not_normalised", "representation: waveform", "models/preprocessing.py",
      "out[features.WAVEFORM_REP] = waveform / (rms + 1e-4)", "out[features.WAVEFORM_REP] = waveform",
      "tests/test_representations.py"),
    M("stft_magnitude_is_power", "representation: STFT magnitude", "models/preprocessing.py",
      "out[features.STFT_MAGNITUDE] = magnitude / (scale + _EPSILON)",
      "out[features.STFT_MAGNITUDE] = power / (scale + _EPSILON)",
      "tests/test_representations.py"),
    M("power_spectrogram_is_magnitude", "representation: power spectrogram", "models/preprocessing.py",
      "centred(tf.math.log(power + _EPSILON))", "centred(tf.math.log(magnitude + _EPSILON))",
      "tests/test_representations.py"),
    M("log_mel_band_edges_ignored", "representation: log-mel", "models/preprocessing.py",
      "lower_edge_hertz=float(config.lower_hz)", "lower_edge_hertz=0.0",
      "tests/test_representations.py", "tests/test_preprocessing.py"),
    M("mfcc_off_by_one", "representation: MFCC", "models/preprocessing.py",
      "mfccs_from_log_mel_spectrograms(log_mel)[..., : config.num_mfcc]",
      "mfccs_from_log_mel_spectrograms(log_mel)[..., 1: config.num_mfcc + 1]",
      "tests/test_representations.py"),
    M("utterance_mean_kept", "normalisation: per utterance", "models/preprocessing.py",
      "        return (x - tf.reduce_sum(x * audible, axis=1, keepdims=True) / count) * audible",
      "        return x * audible",
      "tests/test_preprocessing.py"),
    M("per_band_zscore_without_variance", "normalisation: per band", "models/preprocessing.py",
      "return (x - mean) * tf.math.rsqrt(var + _EPSILON)", "return x - mean",
      "tests/test_preprocessing.py"),
    # -- serving ------------------------------------------------------------------------------
    M("pooling_weights_0_1", "pooling and weighting", "contract/geometry.py",
      "return tf_window_weight(real, window) * tf.cast(speech, tf.float32)",
      "return tf.cast(real > 0, tf.float32) * tf.cast(speech, tf.float32)",
      "tests/test_serving_pooling.py"),
    M("pooling_unweighted_mean", "pooling and weighting", "contract/geometry.py",
      "return tf.reduce_sum(per_window * weights[:, :, None], axis=1) / norm",
      "return tf.reduce_mean(per_window, axis=1)",
      "tests/test_serving_pooling.py"),
    M("tflite_pooling_equal_weights", "pooling and weighting: TFLite", "serving/tflite_model.py",
      "        return {**{k: np.asarray(out[k]) for k in WINDOW_OUTPUTS},",
      "        out = {**out, \"probabilities\": out[\"window_probabilities\"][out[\"window_speech\"] > 0.5].mean(0)}\n"
      "        return {**{k: np.asarray(out[k]) for k in WINDOW_OUTPUTS},",
      "tests/test_geometry.py::test_saved_model_and_tflite_pool_silence_and_a_partial_last_window_alike"),
    M("tflite_pooling_ignores_speech", "pooling and weighting: TFLite", "serving/tflite_model.py",
      "        return {**{k: np.asarray(out[k]) for k in WINDOW_OUTPUTS},",
      "        w = out[\"window_weight\"]\n"
      "        out = {**out, \"probabilities\": (out[\"window_probabilities\"] * w[:, None]).sum(0) / w.sum()}\n"
      "        return {**{k: np.asarray(out[k]) for k in WINDOW_OUTPUTS},",
      "tests/test_geometry.py::test_saved_model_and_tflite_pool_silence_and_a_partial_last_window_alike"),
    M("chunk_merge_equal_weights", "pooling and weighting: chunked recordings", "serving/windows.py",
      "weights = pooling_weights(merged[\"window_weight\"], speech)",
      "weights = pooling_weights(np.ones(len(speech)), speech)",
      "tests/test_geometry.py::test_chunked_recordings_pool_like_one_call_on_the_whole"),
    M("serving_rate_check_ignored", "serving: bad input", "serving/audio_input.py",
      "        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:", "        if False:",
      "tests/test_serving_input.py"),
    M("serving_duration_cap_ignored", "serving: bad input", "serving/audio_input.py",
      "            if self.decoded_samples > max_samples:", "            if False:",
      "tests/test_serving_input.py"),
    M("serving_size_cap_ignored", "serving: bad input", "serving/audio_input.py",
      "    if info.st_size > max_bytes:", "    if False:",
      "tests/test_serving_input.py"),
    M("client_version_ignored", "serving: clients", "serving/cli.py",
      "RestModel(args.rest, args.model, args.version, policy)", "RestModel(args.rest, args.model, None, policy)",
      "tests/test_serving_clients.py", "-k", "version and rest"),
    M("client_min_seconds_ignored", "serving: bad input", "serving/settings.py",
      "return self.min_seconds if self.min_seconds is not None else",
      "return 0.0 if self.min_seconds is not None else",
      "tests/test_serving_clients.py", "-k", "min_seconds"),
    M("segments_not_smoothed", "serving: segments smoothing", "serving/segments.py",
      "smoothed[i] = np.median(probabilities[neighbours], axis=0)", "smoothed[i] = probabilities[i]",
      "tests/test_serving_settings.py", "-k", "segments"),
    M("allow_list_not_renormalised", "serving: allow-list renormalisation", "serving/windows.py",
      "return kept / np.maximum(kept.sum(axis=-1, keepdims=True), 1e-12), tuple(allowed)",
      "return kept, tuple(allowed)",
      "tests/test_serving_cli.py::test_languages_restricts_and_renormalises_and_unknown_names_are_an_error"),
    # -- calibration and open-set rejection ------------------------------------------------------
    M("temperature_not_fitted", "calibration: temperature", "models/calibration.py",
      "    return float(np.exp(result.x))", "    return 1.0",
      "tests/test_calibration.py"),
    M("ece_unweighted", "calibration: ECE", "models/calibration.py",
      "return float(np.sum(table[\"count\"][filled] / n * gaps))", "return float(np.mean(gaps))",
      "tests/test_calibration.py"),
    M("open_set_probability_ignored", "open-set rejection", "models/open_set.py",
      "    if top < p_min:\n", "    if False:\n",
      "tests/test_open_set.py"),
    M("open_set_distance_ignored", "open-set rejection", "models/open_set.py",
      "    elif distance > params[\"max_distance\"]:", "    elif False:",
      "tests/test_open_set.py"),
    M("open_set_whisper_score_ignored", "open-set rejection (Whisper rule)", "models/open_set.py",
      "        elif score > rule[\"threshold\"]:", "        elif False:",
      "tests/test_open_set_whisper.py"),
    M("open_set_guess_may_be_a_model_language", "open-set unknown_guess", "models/open_set_whisper.py",
      "    out = np.where(outside, w, -1.0)", "    out = w",
      "tests/test_open_set_whisper.py"),
    M("open_set_whisper_chosen_on_measure_languages", "open-set rejection (Whisper rule)", "models/open_set_whisper.py",
      'out_x[role == "threshold"]', "out_x",
      "tests/test_open_set_whisper.py"),
    M("open_set_whisper_threshold_keeps_too_few", "open-set rejection (Whisper rule)", "models/open_set_whisper.py",
      "    return float(correct_scores[max(keep, 1) - 1])", "    return float(correct_scores[max(keep, 1) - 2])",
      "tests/test_open_set_whisper.py"),
    M("open_set_whisper_not_cross_fitted", "open-set rejection (Whisper rule)", "models/open_set_whisper.py",
      "        part = fit_scorers(x[~held], labels[~held], other_x, num_classes)",
      "        part = fit_scorers(x, labels, other_x, num_classes)",
      "tests/test_open_set_whisper.py"),
    M("open_set_whisper_background_ignored", "open-set rejection (Whisper rule)", "models/open_set_whisper.py",
      '    terms = list(raw_scores(x, predicted, rule["scorers"]))',
      '    terms = [0 * raw_scores(x, predicted, rule["scorers"])[0], raw_scores(x, predicted, rule["scorers"])[1]]',
      "tests/test_open_set_whisper.py"),
    M("open_set_whisper_distance_ignored", "open-set rejection (Whisper rule)", "models/open_set_whisper.py",
      '    terms = list(raw_scores(x, predicted, rule["scorers"]))',
      '    terms = [raw_scores(x, predicted, rule["scorers"])[0], 0 * raw_scores(x, predicted, rule["scorers"])[1]]',
      "tests/test_open_set_whisper.py"),
    M("open_set_whisper_surprise_ignored", "open-set rejection (Whisper rule)", "models/open_set_whisper.py",
      '        terms.append(whisper_surprise(x, predicted, rule["codes"]))',
      '        terms.append(0 * whisper_surprise(x, predicted, rule["codes"]))',
      "tests/test_open_set_whisper.py"),
    M("open_set_whisper_surprise_not_chosen_on", "open-set rejection (Whisper rule)", "models/open_set_whisper.py",
      "    terms = (np.r_[background, choose_background], np.r_[distance, choose_distance], surprise)",
      "    terms = (np.r_[background, choose_background], np.r_[distance, choose_distance], 0 * surprise)",
      "tests/test_open_set_whisper.py"),
    M("open_set_whisper_sure_clause_ignored", "open-set rejection (Whisper rule)", "models/open_set_whisper.py",
      '    return (rule_score(x, predicted, rule) > float(rule["threshold"])) | whisper_sure_outside(x, rule)',
      '    return rule_score(x, predicted, rule) > float(rule["threshold"])',
      "tests/test_open_set_whisper.py"),
    M("open_set_whisper_sure_from_wrong_answers_too", "open-set rejection (Whisper rule)",
      "models/open_set_whisper.py",
      "    sure = max(float(outside[correct].max()), SURE_FLOOR)",
      "    sure = max(float(outside.max()), SURE_FLOOR)",
      "tests/test_open_set_whisper.py"),
    M("open_set_decide_ignores_whisper_sure", "open-set rejection (Whisper rule)", "models/open_set.py",
      "        elif whisper_sure_outside(x, rule)[0]:", "        elif False:",
      "tests/test_open_set_whisper.py"),
    M("open_set_whisper_inputs_unclipped", "open-set rejection (Whisper rule)", "models/open_set_whisper.py",
      "    return np.clip((x - mean) / scale, -MAX_Z, MAX_Z)", "    return (x - mean) / scale",
      "tests/test_open_set_whisper.py"),
    M("open_set_whisper_rule_not_stored", "open-set rejection (Whisper rule)", "models/keras_model/held_out.py",
      '    if "whisper" in held and len(out["whisper"]) == len(clips):', "    if False:",
      "tests/test_open_set_trainer.py"),
    M("open_set_whisper_embedding_not_passed", "open-set rejection (Whisper rule)", "serving/cli.py",
      "result.get(WHISPER_POOLED), result.get(WHISPER_EMBEDDING))", "result.get(WHISPER_POOLED), None)",
      "tests/test_open_set_whisper.py", "-k", "cli"),
    M("open_set_whisper_embedding_not_served", "open-set rejection (Whisper rule)", "models/keras_model/signatures.py",
      '            out["whisper_embedding"] = inputs[features.WHISPER_XF]',
      '            out["whisper_embedding"] = 0.0 * inputs[features.WHISPER_XF]',
      "tests/test_open_set_signatures.py"),
    M("open_set_whisper_embedding_not_pooled", "open-set rejection (Whisper rule)", "serving/windows.py",
      "        for k in (WHISPER_WINDOWS, WHISPER_EMBEDDING_WINDOWS):", "        for k in (WHISPER_WINDOWS,):",
      "tests/test_open_set_signatures.py"),
    # -- speech / no-speech ----------------------------------------------------------------------
    M("speech_flatness_ignored", "speech detection", "audio/speech.py",
      "    return bool(flatness < MAX_FLATNESS)", "    return True",
      "tests/test_speech.py", "-k", "not graph"),
    M("speech_modulation_ignored", "speech detection", "audio/speech.py",
      "    if np.std(levels[active]) < MIN_MODULATION_DB:", "    if False:",
      "tests/test_speech.py", "-k", "not graph"),
    # -- storage, caching, manifest -----------------------------------------------------------
    M("fingerprint_ignores_etag", "caching", "storage/corpus.py",
      "json.dumps([obj.key, obj.size, obj.etag])", "json.dumps([obj.key, obj.size])",
      "tests/test_storage.py"),
    M("code_version_ignores_edits", "caching", "pipeline/code_version.py",
      "            digest.update(f.read())", "            f.read()",
      "tests/test_code_version.py"),
    M("code_version_not_in_trainer_key", "caching", "pipeline/pipeline.py",
      'code_version=code_version("trainer")))', 'code_version=""))',
      "tests/test_pipeline_definition.py"),
    M("manifest_unsorted", "manifest handling", "storage/s3.py",
      'ordered = sorted(rows, key=lambda r: r["key"])', "ordered = list(rows)",
      "tests/test_manifest_codec.py"),
    M("manifest_rows_unchecked", "manifest handling", "storage/s3.py",
      'if not isinstance(row, dict) or "key" not in row:', "if False:",
      "tests/test_manifest_codec.py"),
    M("manifest_duplicate_keys_overwrite", "manifest handling", "storage/manifest.py",
      "        if key in first_line_of:", "        if False:",
      "tests/test_manifest_reader.py"),
    M("manifest_bom_kept", "manifest handling", "storage/manifest.py",
      "            raw = raw[len(_BOM):]", "            pass",
      "tests/test_ingestion_faults.py::test_malformed_manifest_rows_are_reported_and_resolved"),
    # -- data validation ---------------------------------------------------------------------
    M("duplicate_conflict_not_an_error", "data validation: duplicates", "components/data_validator/checks.py",
      "        if len(languages) > 1:", "        if False:",
      "tests/test_data_validation.py"),
    M("one_speaker_only_a_warning", "data validation: speakers", "components/data_validator/checks.py",
      "severity = ERROR if len(speakers) < 2 else WARNING", "severity = WARNING",
      "tests/test_data_validation.py"),
    M("speaker_warnings_one_per_voice", "data validation: speakers", "components/data_validator/checks.py",
      '    return [anomaly("speaker_in_several_languages", WARNING, message, keys, speakers=several)]',
      '    return [anomaly("speaker_in_several_languages", WARNING, message, keys, speakers=several) for _ in several]',
      "tests/test_data_validation.py"),
    M("imbalance_unchecked", "data validation: imbalance", "components/data_validator/checks.py",
      "        if largest / n > max_ratio:", "        if False:",
      "tests/test_data_validation.py"),
    M("clipping_one_sided", "data validation: audio statistics", "audio/stats.py",
      "np.mean(np.abs(waveform) >= level)", "np.mean(waveform >= level)",
      "tests/test_audio_stats.py"),
    M("fingerprint_ignores_sign", "data validation: audio statistics", "audio/stats.py",
      "pcm = np.round(np.clip(waveform, -1.0, 1.0) * 32767.0)",
      "pcm = np.round(np.clip(np.abs(waveform), -1.0, 1.0) * 32767.0)",
      "tests/test_audio_stats.py"),
    # -- ingestion faults ----------------------------------------------------------------------
    M("bad_object_counted_as_store_failure", "ingestion: store failures vs bad objects", "storage/fetch.py",
      "            if is_bad_object(err):", "            if False:",
      "tests/test_ingestion_faults.py::test_a_store_error_is_not_a_bad_object"),
    M("store_failure_counted_as_bad_object", "ingestion: store failures vs bad objects",
      "components/s3_audio_example_gen/fetch_segment.py",
      "        if outcome == \"store\":\n            self._store_failures_in_a_row += 1\n"
      "            yield from self._unfetchable(clip, payload)",
      "        if outcome == \"store\":\n            self._store_failures_in_a_row += 1\n"
      "            yield from self._skip(clip, payload)",
      "tests/test_ingestion_faults.py::test_a_store_error_is_not_a_bad_object"),
    M("max_skipped_fraction_ignored", "ingestion: max_skipped_fraction", "components/s3_audio_example_gen/report.py",
      "    elif skipped > max_skipped * listed:", "    elif False:",
      "tests/test_ingestion_faults.py::test_too_many_bad_clips_fail_the_run_naming_the_report"),
    # -- the run lock ------------------------------------------------------------------------
    M("run_lock_not_taken", "run lock", "operations/run_lock.py",
      "            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", "            pass",
      "tests/test_runs.py::test_a_second_run_on_a_busy_output_dir_fails_at_once"),
    # -- scraper ------------------------------------------------------------------------------
    M("scraper_no_rate_limit", "scraper: politeness", "scraper/fetch.py",
      "self._next[host] = slot + max(self.interval, self._min_interval.get(host, 0.0))",
      "self._next[host] = slot",
      "tests/test_scraper_units.py", "tests/test_scraper_crawl.py"),
    M("scraper_ignores_robots", "scraper: politeness", "scraper/fetch.py",
      "        if not self.robots().can_fetch(self.user_agent, url):", "        if False:",
      "tests/test_scraper_units.py", "tests/test_scraper_crawl.py"),
    M("scraper_resume_downloads_again", "scraper: resume", "scraper/crawl.py",
      "        head = object_head(self.client, self.cfg.bucket, key) if self.bucket_exists else None",
      "        head = None",
      "tests/test_scraper_crawl.py"),
    M("scraper_short_body_accepted", "scraper: short bodies", "scraper/fetch.py",
      "        if declared is not None and received < declared:", "        if False:",
      "tests/test_scraper_units.py", "-k", "short"),
    M("scraper_mpeg_walk_accepts_truncated_frame", "scraper: MPEG walk", "scraper/validate.py",
      "        if pos + length > end:", "        if False:",
      "tests/test_scraper_units.py", "-k", "mpeg"),
    M("scraper_mpeg_xing_count_ignored", "scraper: MPEG walk", "scraper/validate.py",
      "    if declared_frames is not None and frames < declared_frames:", "    if False:",
      "tests/test_scraper_units.py", "-k", "mpeg or truncat or cut"),
    # -- entry points ---------------------------------------------------------------------------
    M("no_cache_ignored", "caching", "local_runner.py",
      "\"enable_cache\": not args.no_cache", "\"enable_cache\": True",
      "tests/test_local_runner_options.py"),
    M("visualize_skips_augmentations", "visualisation", "models/visualize.py",
      "    for name in REGISTRY:", "    for name in list(REGISTRY)[:3]:",
      "tests/test_visualize.py"),
    M("beam_args_dropped", "Beam runners", "pipeline/pipeline.py",
      "    return args + list(runtime.beam_args)", "    return args",
      "tests/test_beam_multiprocess.py"),
    # -- the Evaluator's gate, through TFMA's validator ------------------------------------------
    M("evaluator_gate_open", "Evaluator gate", "pipeline/pipeline.py",
      'lower_bound={"value": accuracy_lower_bound}', 'lower_bound={"value": 0.0}',
      "tests/test_evaluator_gate.py"),
    M("evaluator_regression_unchecked", "Evaluator gate", "pipeline/pipeline.py",
      'absolute={"value": -regression_tolerance}', 'absolute={"value": -1.0}',
      "tests/test_evaluator_gate.py"),
    # -- the transfer bench (bench/transfer.py, bench/unseen_speech.py) ---------------------------
    M("transfer_scores_every_answer_right", "transfer bench", "bench/transfer.py",
      'cell["correct"] += int(row["predicted"] == row["language"])', 'cell["correct"] += 1',
      "tests/test_bench_transfer.py"),
    M("unseen_missing_package_raises", "transfer bench", "bench/unseen_speech.py",
      "        missing.append(Missing(set_name, package, reason))\n        return None",
      "        raise RuntimeError(reason)",
      "tests/test_bench_transfer.py"),
    M("transfer_scores_out_of_set_speech", "transfer bench", "bench/transfer.py",
      "            if name in OUT_OF_SET_SETS:   # no right answer among the model's languages\n"
      "                continue\n",
      "",
      "tests/test_bench_transfer.py"),
    M("open_set_speech_cost_of_rule_hidden", "open-set bench on whole clips", "bench/open_set_speech.py",
      '                cell["without_rule"] += max(r["probabilities"], key=r["probabilities"].get) == c["language"]',
      '                cell["without_rule"] += r["language"] == c["language"]',
      "tests/test_bench_transfer.py"),
    # -- the cost benches (bench/scale.py, bench/serving.py) -------------------------------------
    M("whisper_constants_rounded", "Whisper weights as float16 constants", "models/whisper/encoder.py",
      "        if np.array_equal(half.astype(np.float32), array):", "        if True:",
      "tests/test_whisper_constants.py"),
    M("whisper_features_traced_every_time", "Whisper features traced once a process", "models/whisper/embedding.py",
      "@functools.lru_cache(maxsize=1)\n", "",
      "tests/test_whisper_embedding.py::test_window_features_are_traced_once_a_process_and_match_the_inline_graph"),
    M("transform_graph_loaded_per_split", "Transform: one graph for all splits", "components/transform_executor.py",
      "            if key not in self._states:", "            if True:",
      "tests/test_transform_executor.py::test_the_splits_share_one_loaded_transform_graph"),
    M("scale_transform_against_feature_limit", "scale bench: Transform against the encoder", "bench/scale.py",
      'best["transform"]["audio_s_per_s"] / anchors["encoder_limit_audio_s_per_s"]',
      'best["transform"]["audio_s_per_s"] / anchors["feature_limit_audio_s_per_s"]',
      "tests/test_bench_scale.py"),
    M("scale_representations_dropped", "scale bench: Transform with Whisper", "bench/scale_stage.py",
      'features = {"representations": tuple(params["representations"])} if params.get("representations") else {}',
      "features = {}",
      "tests/test_bench_scale.py"),
    M("serving_bare_uncalibrated", "serving bench: the calibrated answer", "bench/serving.py",
      "calibrate(window_probabilities, temperature).numpy()", "np.asarray(window_probabilities)",
      "tests/test_bench_serving.py"),
]


def tracked_files(repo: str) -> list[str]:
    """Tracked files plus new ones git does not ignore (uncommitted tests count too)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=repo, check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p and os.path.isfile(os.path.join(repo, p))]


def copy_repo(repo: str, dest: str) -> None:
    for rel in tracked_files(repo):
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(repo, rel), target)


def staleness(mutation: Mutation, root: str) -> str | None:
    """Why `mutation` no longer applies to the tree at `root` (None when it does): its file is
    gone, its snippet is not there exactly once, or a test file it names is gone."""
    try:
        with open(os.path.join(root, mutation.file), encoding="utf-8") as f:
            found = f.read().count(mutation.original)
    except FileNotFoundError:
        return f"file not found: {mutation.file}"
    if found != 1:
        return f"snippet found {found} times in {mutation.file}"
    gone = [t for t in mutation.tests
            if t.startswith("tests/") and not os.path.exists(os.path.join(root, t.split("::")[0]))]
    return f"test file(s) not found: {', '.join(gone)}" if gone else None


def run_tests(tests: tuple[str, ...], copy: str, timeout_s: float) -> tuple[int | None, str]:
    """pytest's exit status (None on timeout) and the tail of its output, run inside `copy`."""
    env = {**os.environ, "PYTHONPATH": copy, "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout_s)
        return done.returncode, (done.stdout + done.stderr)[-2000:]
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout_s:.0f} s"


def baseline_failures(chosen: list[Mutation], copy: str, timeout_s: float) -> dict[tuple[str, ...], str]:
    """Each distinct selection run on the unbroken copy; those that do not pass, with pytest's tail.
    A selection that fails anyway would count every mutation it covers as killed."""
    failing = {}
    for tests in dict.fromkeys(m.tests for m in chosen):
        rc, tail = run_tests(tests, copy, timeout_s)
        print(f"baseline {' '.join(tests)}: {'passes' if rc == 0 else f'FAILS (exit {rc})'}", flush=True)
        if rc != 0:
            failing[tests] = tail
    return failing


def run_one(mutation: Mutation, copy: str, timeout_s: float) -> dict:
    """Apply `mutation` inside `copy`, run its tests, restore the file; return its record."""
    record = {"name": mutation.name, "capability": mutation.capability, "file": mutation.file,
              "tests": list(mutation.tests)}
    path = os.path.join(copy, mutation.file)
    problem = staleness(mutation, copy)
    if problem:
        return {**record, "status": "stale", "seconds": 0.0, "detail": problem}
    with open(path, encoding="utf-8") as f:
        source = f.read()
    started = time.monotonic()
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(source.replace(mutation.original, mutation.replacement))
        rc, tail = run_tests(mutation.tests, copy, timeout_s)
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
    # pytest: 0 all passed, 1 some failed, 2 interrupted (e.g. an import broke: still caught),
    # 3 internal error, 4 usage error (a test path that does not exist), 5 nothing collected.
    status = {0: "survived", 1: "killed", 2: "killed"}.get(rc, "error")
    return {**record, "status": status, "seconds": round(time.monotonic() - started, 1), "returncode": rc,
            "detail": tail if status != "killed" else tail[-600:]}


def list_entries(chosen: list[Mutation], cache_path: str, check_reach: bool, timeout_s: float) -> int:
    """The table, each entry checked: stale (static), and whether its selection reaches the
    mutated line (cached answers; with `check_reach`, the missing ones measured first).
    Exit status 1 when an entry is stale or known not to reach its line."""
    problems = {m.name: staleness(m, REPO) for m in chosen}
    live = [m for m in chosen if problems[m.name] is None]
    cache = reach.load_cache(cache_path)
    if check_reach and live:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="langid-reach-copy-") as tmp:
            copy_repo(REPO, tmp)
            answers = reach.check(live, tmp, REPO, cache, timeout_s, log=lambda line: print(line, flush=True))
        reach.save_cache(cache_path, cache)
        print(f"reach checked in {time.monotonic() - started:.0f} s (cache: {cache_path})")
    else:
        answers = {m.name: reach.cached(cache, m, REPO) for m in live}
    for m in chosen:
        note = ""
        if problems[m.name]:
            note = f"  STALE: {problems[m.name]}"
        elif answers[m.name] is False:
            with open(os.path.join(REPO, m.file), encoding="utf-8") as f:
                lines = reach.snippet_lines(f.read(), m.original)
            note = f"  UNREACHED: the selection never runs {m.file} line(s) {', '.join(map(str, lines))}"
        elif answers[m.name] is None:
            note = "  (reach unchecked)"
        print(f"{m.name:42} {m.capability:42} {m.file:44} {' '.join(m.tests)}{note}")
    stale = sum(p is not None for p in problems.values())
    unreached = sum(a is False for a in answers.values())
    unchecked = sum(a is None for a in answers.values())
    if stale:
        print(f"{stale} stale entries: refresh them to the current code", file=sys.stderr)
    if unreached:
        print(f"{unreached} entries whose tests never run the mutated line: point them at the tests that do",
              file=sys.stderr)
    if unchecked:
        print(f"{unchecked} entries' reach unchecked (not cached for this code): run --check-reach",
              file=sys.stderr)
    return 1 if stale or unreached else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run this mutation (repeatable)")
    parser.add_argument("--list", action="store_true",
                        help="print the table and exit; marks stale entries, and unreached ones known from the cache")
    parser.add_argument("--check-reach", action="store_true",
                        help="--list, after running each selection whose reach is not cached (or is outdated), "
                             "unmutated, to see that it executes the mutated line")
    parser.add_argument("--reach-cache", default=reach.default_cache_path(), help="where reach answers are kept")
    parser.add_argument("--jobs", type=int, default=1, help="mutations run at once, each in its own copy")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per mutation's tests")
    parser.add_argument("--output", default="mutations.json")
    parser.add_argument("--baseline", action="store_true",
                        help="first run each selection without its mutation; one that fails makes its entries errors")
    args = parser.parse_args(argv)

    names = [m.name for m in MUTATIONS]
    assert len(set(names)) == len(names), "mutation names must be unique"
    unknown = sorted(set(args.only) - set(names))
    if unknown:
        parser.error(f"unknown mutation(s): {', '.join(unknown)}")
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    if args.list or args.check_reach:
        return list_entries(chosen, args.reach_cache, args.check_reach, args.timeout)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="langid-mutations-") as tmp:
        copies = []
        for i in range(min(args.jobs, len(chosen))):
            copies.append(os.path.join(tmp, f"copy{i}"))
            copy_repo(REPO, copies[-1])
        free = list(copies)
        broken = baseline_failures(chosen, copies[0], args.timeout) if args.baseline and copies else {}

        def job(mutation: Mutation) -> dict:
            if mutation.tests in broken:
                record = {"name": mutation.name, "capability": mutation.capability, "file": mutation.file,
                          "tests": list(mutation.tests), "status": "error", "seconds": 0.0,
                          "detail": "the selection fails without the mutation:\n" + broken[mutation.tests]}
            else:
                record = run_mutation(mutation)
            print(f"{record['name']:42} {record['status']:9} {record['seconds']:8.1f} s  {record['capability']}",
                  flush=True)
            return record

        def run_mutation(mutation: Mutation) -> dict:
            copy = free.pop()            # list.pop/append are atomic; one copy per running job
            try:
                return run_one(mutation, copy, args.timeout)
            finally:
                free.append(copy)

        with ThreadPoolExecutor(max_workers=len(copies) or 1) as pool:
            records = list(pool.map(job, chosen))

    counts = {s: sum(r["status"] == s for r in records) for s in ("killed", "survived", "stale", "error")}
    summary = f"{counts['killed']} killed, {counts['survived']} survived"
    if counts["stale"] or counts["error"]:
        summary += f" ({counts['stale']} stale, {counts['error']} errors)"
    print(summary)
    print(f"total {time.monotonic() - started:.0f} s")
    for r in records:
        if r["status"] != "killed":
            print(f"--- {r['name']} ({r['status']}):\n{r.get('detail', '')}", file=sys.stderr)
    with open(args.output + ".tmp", "w", encoding="utf-8") as f:
        json.dump({**counts, "seconds": round(time.monotonic() - started, 1), "mutations": records}, f, indent=2)
    os.replace(args.output + ".tmp", args.output)
    return 0 if counts["killed"] == len(records) else 1


if __name__ == "__main__":
    sys.exit(main())
