"""How far pretrained Whisper-base features go on the demo corpus, on voices never trained on.

One 3 s window a clip (its start, zero-padded), through models/whisper once: the encoder
states give pooled features (models/whisper/embedding.py) and Whisper's own language head
gives zero-shot logits. Then, with the 16 voices split into 4 folds of 4 (a voice is held
out in all six languages at once, as the pipeline's speaker-disjoint split does):

- a logistic-regression head (scikit-learn, standardised features) trained on 12 voices'
  pooled features and scored on the 4 held-out voices, for mean and mean+std pooling;
- Whisper zero-shot: its language head restricted to the six languages (no training), on
  the same held-out voices (every clip is held out once).

Prints accuracy per fold and overall. Needs the installed weights.

    python -m bench.whisper_probe [--seconds 3] [--folds 4] [--batch 16]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "data", "demo")
CODES = {"English": "en", "French": "fr", "Spanish": "es", "German": "de", "Russian": "ru", "Chinese": "zh"}


def load_demo(seconds: float) -> tuple[np.ndarray, list[str], list[str]]:
    from audio.decode import decode_audio
    rows = [json.loads(line) for line in open(os.path.join(DEMO, "manifest.jsonl"))]
    n = int(seconds * 16_000)
    wavs = []
    for row in rows:
        with open(os.path.join(DEMO, row["key"]), "rb") as f:
            wav = decode_audio(f.read(), 16_000)[:n]
        wavs.append(np.pad(wav, (0, n - len(wav))))
    return np.stack(wavs).astype(np.float32), [r["language"] for r in rows], [r["speaker_id"] for r in rows]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--batch", type=int, default=16)
    args = p.parse_args(argv)

    import tensorflow as tf
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from models.whisper import embedding, encoder, frontend, language, weights

    t0 = time.perf_counter()
    wavs, langs, speakers = load_demo(args.seconds)
    w = weights.load()
    enc, head = encoder.Encoder(w), language.LanguageHead(w)
    keep = tuple(CODES[lang] for lang in CODES)

    @tf.function(input_signature=[tf.TensorSpec([None, wavs.shape[1]], tf.float32)])
    def features(x):
        states = enc(frontend.log_mel(x))
        return (embedding.pool(states, "mean_std"),
                language.restrict(head(states), w.languages, keep))

    pooled, zero_shot = [], []
    for i in range(0, len(wavs), args.batch):
        f, z = features(wavs[i:i + args.batch])
        pooled.append(f.numpy())
        zero_shot.append(z.numpy())
    pooled, zero_shot = np.concatenate(pooled), np.concatenate(zero_shot)
    t_feat = time.perf_counter() - t0

    y = np.array([list(CODES).index(lang) for lang in langs])
    voices = sorted(set(speakers))
    folds = [voices[k::args.folds] for k in range(args.folds)]
    print(f"demo corpus: {len(wavs)} clips, {len(voices)} voices, first {args.seconds:g} s of each; "
          f"features in {t_feat:.0f} s")
    results = {"mean": [], "mean_std": [], "zero_shot": []}
    for k, held in enumerate(folds):
        test = np.isin(speakers, held)
        row = []
        for pooling, cols in (("mean", slice(0, encoder.WIDTH)), ("mean_std", slice(None))):
            clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
            clf.fit(pooled[~test, cols], y[~test])
            acc = float((clf.predict(pooled[test, cols]) == y[test]).mean())
            results[pooling].append((acc, int(test.sum())))
            row.append(f"LR {pooling} {acc:.3f}")
        acc = float((zero_shot[test].argmax(1) == y[test]).mean())
        results["zero_shot"].append((acc, int(test.sum())))
        print(f"  fold {k}: held-out voices {', '.join(held)} ({int(test.sum())} clips): "
              + ", ".join(row) + f", Whisper zero-shot (6 languages) {acc:.3f}")
    for name, rs in results.items():
        total = sum(n for _, n in rs)
        print(f"  {name:10s} held-out accuracy {sum(a * n for a, n in rs) / total:.3f} over {total} clips")
    zs_pred = zero_shot.argmax(1)
    print("  zero-shot per language: " + ", ".join(
        f"{lang} {float((zs_pred[y == i] == i).mean()):.2f}" for i, lang in enumerate(CODES)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
