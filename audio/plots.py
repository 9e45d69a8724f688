"""Pictures of augmentations, to check by eye what the model is trained on.

Uses matplotlib's object API with the Agg canvas (no pyplot): no display is needed, the
process-wide backend is left alone and figures are not kept in pyplot's global registry.
Spectrograms use scipy.signal.stft, not TensorFlow, to keep this import light.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.signal
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from audio import noise as noise_lib
from audio.augment import REGISTRY, AugmentationConfig

__all__ = ["plot_augmentations", "plot_spectrogram", "plot_representations", "log_power_spectrogram", "DPI",
           "ROW_HEIGHT_IN", "AUGMENTATION_LABELS", "augmentation_label"]

DPI = 100
ROW_HEIGHT_IN = 2.0
FIG_WIDTH_IN = 13.0
DYNAMIC_RANGE_DB = 80.0


def _bank_entry_name(index: int, sample_rate: int) -> str:
    bank = noise_lib.load_bank(str(noise_lib.bank_dir()), sample_rate)
    return bank[index % len(bank)][0]


# Row titles of plot_augmentations: how to read one augmentation's setting. An augmentation
# without an entry gets generic "field=value" labels, so adding one needs no edit here.
AUGMENTATION_LABELS = {
    "time_stretch": lambda kw, sr: f"rate={kw['rate']:.2f}",
    "pitch_scale": lambda kw, sr: f"semitones={kw['semitones']:+.2f}",
    "vtlp": lambda kw, sr: f"alpha={kw['alpha']:.2f}",
    "random_crop": lambda kw, sr: f"start={kw['start']}, length={kw['length']}",
    "time_shift": lambda kw, sr: f"shift={kw['shift']} samples",
    "room_reverb": lambda kw, sr: f"RT60={kw['rt60_s']:.2f} s, DRR={kw['drr_db']:.1f} dB",
    "high_pass": lambda kw, sr: f"cutoff={kw['cutoff_hz']:.0f} Hz, order={kw['order']}",
    "background_noise": lambda kw, sr: f"{_bank_entry_name(kw['index'], sr)}, SNR={kw['snr_db']:.1f} dB",
    "white_noise": lambda kw, sr: f"SNR={kw['snr_db']:.1f} dB",
    "random_gain": lambda kw, sr: f"gain={kw['gain_db']:+.1f} dB",
    "volume": lambda kw, sr: f"{kw['start_db']:+.1f} dB -> {kw['end_db']:+.1f} dB",
    "polarity_inversion": lambda kw, sr: "w -> -w",
    "time_mask": lambda kw, sr: "; ".join(f"start={s}, length={n}" for s, n in kw["spans"]),
}


def augmentation_label(name: str, setting: dict, sample_rate: int) -> str:
    """``name (setting)`` for a plot row, from AUGMENTATION_LABELS or generic ``field=value``."""
    if name in AUGMENTATION_LABELS:
        described = AUGMENTATION_LABELS[name](setting, sample_rate)
    else:
        described = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                              for k, v in setting.items())
    return f"{name} ({described})"


def log_power_spectrogram(
    waveform: Any, sample_rate: int, frame_ms: float = 32.0, hop_ms: float = 8.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (times_s, freqs_hz, power_db[freq, time]) from a Hann-window STFT."""
    w = np.asarray(waveform, dtype=np.float64)
    nperseg = max(16, int(round(sample_rate * frame_ms / 1000.0)))
    hop = max(1, int(round(sample_rate * hop_ms / 1000.0)))
    nperseg = min(nperseg, max(1, w.shape[0]))
    noverlap = min(nperseg - hop, nperseg - 1) if nperseg > hop else 0
    freqs, times, z = scipy.signal.stft(
        w, fs=sample_rate, window="hann", nperseg=nperseg, noverlap=noverlap, boundary=None, padded=False
    )
    power_db = 10.0 * np.log10(np.abs(z) ** 2 + 1e-12)
    return times, freqs, power_db


def _draw_row(
    fig: Figure, wave_ax, spec_ax, waveform: np.ndarray, sample_rate: int, label: str, vmax_db: float
) -> None:
    t = np.arange(waveform.shape[0]) / sample_rate
    wave_ax.plot(t, waveform, linewidth=0.5, color="tab:blue")
    wave_ax.set_xlim(0.0, t[-1] if t.size else 1.0)
    wave_ax.set_ylim(-1.05, 1.05)
    wave_ax.set_title(label, fontsize=10, loc="left")
    wave_ax.set_xlabel("time (s)", fontsize=8)
    wave_ax.set_ylabel("amplitude", fontsize=8)
    wave_ax.tick_params(labelsize=7)

    times, freqs, power_db = log_power_spectrogram(waveform, sample_rate)
    duration = waveform.shape[0] / sample_rate
    image = spec_ax.imshow(
        power_db,
        origin="lower",
        aspect="auto",
        extent=(0.0, duration, float(freqs[0]), float(freqs[-1])),
        vmin=vmax_db - DYNAMIC_RANGE_DB,
        vmax=vmax_db,
        cmap="magma",
        interpolation="nearest",
    )
    spec_ax.set_title(f"{label}: log power", fontsize=10, loc="left")
    spec_ax.set_xlabel("time (s)", fontsize=8)
    spec_ax.set_ylabel("frequency (Hz)", fontsize=8)
    spec_ax.tick_params(labelsize=7)
    fig.colorbar(image, ax=spec_ax, pad=0.01, fraction=0.04).set_label("dB", fontsize=8)


def _save(fig: Figure, out_path: str | os.PathLike) -> Path:
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png")
    return path


def plot_augmentations(
    waveform: Any,
    sample_rate: int,
    out_path: str | os.PathLike,
    seed: int = 0,
    config: AugmentationConfig | None = None,
    names: list[str] | None = None,
) -> Path:
    """Save one PNG: row 0 the original, then each registered augmentation (or those in
    ``names``) applied alone.

    Each augmentation uses its representative (strongest allowed) setting from
    ``config``, whatever its probability; ``seed`` drives any randomness (noise).
    Every row shows the waveform and a log-power spectrogram on a shared dB scale,
    so level changes (gain, noise) are visible. Returns the written path.
    """
    config = config or AugmentationConfig()
    original = np.asarray(waveform, dtype=np.float32)
    if original.ndim != 1 or original.size == 0:
        raise ValueError(f"expected a non-empty 1-D waveform, got shape {original.shape}")
    rows: list[tuple[str, np.ndarray]] = [("original", original)]
    for name, params_type in REGISTRY.items():
        if names is not None and name not in names:
            continue
        setting = config[name].strongest(original.shape[0], sample_rate)
        rng = np.random.default_rng(seed)
        augmented = np.asarray(params_type.apply(original, sample_rate, rng, **setting), dtype=np.float32)
        rows.append((augmentation_label(name, setting, sample_rate), augmented))

    vmax_db = float(np.max(log_power_spectrogram(original, sample_rate)[2]))
    fig = Figure(figsize=(FIG_WIDTH_IN, ROW_HEIGHT_IN * len(rows)), dpi=DPI)
    axes = fig.subplots(len(rows), 2, squeeze=False, gridspec_kw={"width_ratios": [1.0, 1.3]})
    for (label, wave), (wave_ax, spec_ax) in zip(rows, axes):
        _draw_row(fig, wave_ax, spec_ax, wave, sample_rate, label, vmax_db)
    return _save(fig, out_path)


def plot_spectrogram(waveform: Any, sample_rate: int, out_path: str | os.PathLike, title: str) -> Path:
    """Save a PNG with the waveform and its log-power spectrogram; return the path."""
    wave = np.asarray(waveform, dtype=np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"expected a non-empty 1-D waveform, got shape {wave.shape}")
    vmax_db = float(np.max(log_power_spectrogram(wave, sample_rate)[2]))
    fig = Figure(figsize=(FIG_WIDTH_IN, ROW_HEIGHT_IN * 1.5), dpi=DPI)
    wave_ax, spec_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.3]})
    _draw_row(fig, wave_ax, spec_ax, wave, sample_rate, title, vmax_db)
    return _save(fig, out_path)


def _hz_to_mel(hz):
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def plot_representations(
    values: dict[str, np.ndarray], sample_rate: int, hop_ms: float, out_path: str | os.PathLike,
    lower_hz: float = 0.0, upper_hz: float | None = None, title: str = "",
) -> Path:
    """Save one PNG with a row per representation of one clip, as the model receives it.

    ``values`` maps a representation name (contract.features.REPRESENTATIONS) to a 1-D waveform
    or a [frames, bands] array. Axes: seconds; Hz for STFT bins, mel for the log-mel bands
    (over [lower_hz, upper_hz]), coefficient index for MFCC.
    """
    if not values:
        raise ValueError("nothing to plot")
    upper_hz = upper_hz or sample_rate / 2.0
    fig = Figure(figsize=(FIG_WIDTH_IN, ROW_HEIGHT_IN * 1.2 * len(values)), dpi=DPI)
    axes = fig.subplots(len(values), 1, squeeze=False)[:, 0]
    for ax, (name, value) in zip(axes, values.items()):
        value = np.asarray(value, dtype=np.float64)
        if value.ndim == 1:
            t = np.arange(value.size) / sample_rate
            ax.plot(t, value, linewidth=0.5)
            ax.set_xlim(0.0, t[-1] if t.size else 1.0)
            ax.set_ylabel("amplitude (unit RMS)", fontsize=8)
        else:
            duration = value.shape[0] * hop_ms / 1000.0
            if name in ("stft_magnitude", "power_spectrogram"):
                low, high, unit = 0.0, sample_rate / 2.0, "frequency (Hz)"
            elif name == "log_mel":
                low, high, unit = float(_hz_to_mel(lower_hz)), float(_hz_to_mel(upper_hz)), "mel"
            else:
                low, high, unit = 0.0, float(value.shape[1]), "coefficient (+ deltas)"
            shown = np.log10(value + 1e-3) if name == "stft_magnitude" else value
            image = ax.imshow(shown.T, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
                              extent=(0.0, duration, low, high))
            ax.set_ylabel(unit, fontsize=8)
            label = "log10(magnitude)" if name == "stft_magnitude" else "value"
            fig.colorbar(image, ax=ax, pad=0.01, fraction=0.03).set_label(label, fontsize=8)
        shape = "x".join(str(d) for d in value.shape)
        ax.set_title(f"{name} [{shape}]" + (f" - {title}" if title else ""), fontsize=10, loc="left")
        ax.set_xlabel("time (s)", fontsize=8)
        ax.tick_params(labelsize=7)
    return _save(fig, out_path)
