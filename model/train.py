"""Train, calibrate and package the pneumonia CNN in one command.

    python -m model.train --data DIR [--calibration-data DIR] [--out DIR] [--epochs N] [--seed K]

DIR is a dataset in the Kaggle layout. The output folder receives the model,
its card (data, hyperparameters, seeds, versions, history, validation
metrics) and per-image validation scores. With --calibration-data, a labelled
folder of later X-rays chooses the epoch (scored after each one, never
trained on) and then fits the operating point as `python -m model.calibrate`
does; the committed model is made this way.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import keras
import numpy as np
import sklearn
import tensorflow as tf

from model.augmentation import training_dataset
from model.calibrate import calibrate_model, print_calibration
from model.calibration import choose_threshold, fit_temperature, operating_point_record
from model.card import MODEL_FILE, VALIDATION_SCORES_FILE, ModelCard, Scores, write_card, write_scores
from model.dataset import (
    CLASS_NAMES,
    LoadedImages,
    file_digest,
    list_labelled_files,
    load_model_inputs,
    training_splits,
)
from model.evaluation.metrics import binary_metrics, format_summary, reliability
from model.imaging.preprocess import CLAHE_CLIP_LIMIT, CLAHE_TILES
from model.inference import Classifier
from model.network import LAST_CONV_LAYER, build_network, class_weights, compile_network
from model.operating_point import OperatingPoint, calibrated_probability
from model.paths import DEFAULT_ARTIFACTS_DIR
from model.precision import AUTO, PRECISIONS, resolve_precision
from model.selection import EpochSelection
from model.trust.ood import OOD_STATS_FILE, OOD_SUMMARY_FILE, fit_ood, save_ood


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="dataset root with train/{NORMAL,PNEUMONIA}")
    parser.add_argument("--out", type=Path, default=DEFAULT_ARTIFACTS_DIR, help="where the artifacts go")
    parser.add_argument(
        "--calibration-data", type=Path,
        help="labelled folder of later X-rays (NORMAL/, PNEUMONIA/) that chooses the epoch and fits the "
        "operating point; never trained on",
    )
    parser.add_argument("--epochs", type=int, default=20, help="most epochs; early stopping may end sooner")
    parser.add_argument("--image-size", type=int, default=160, help="side of the square network input")
    parser.add_argument("--seed", type=int, default=42, help="seed of the split, weights and augmentation")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--patience", type=int, default=10, help="epochs without a better selection AUROC")
    parser.add_argument("--label-smoothing", type=float, default=0.1, help="against over-confident logits")
    parser.add_argument("--ema-momentum", type=float, default=0.99, help="weights are averaged over steps")
    parser.add_argument("--validation-fraction", type=float, default=0.125)
    parser.add_argument("--target-sensitivity", type=float, default=0.95)
    parser.add_argument("--strategy", choices=("default", "mirrored"), default="default")
    parser.add_argument(
        "--precision", choices=(AUTO, *PRECISIONS), default=AUTO,
        help="training arithmetic; auto takes bfloat16 where the CPU computes it natively (AMX or AVX-512 BF16)",
    )
    return parser.parse_args(argv)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """MirroredStrategy over the GPUs, or over two logical CPUs where there is none."""
    if name == "default":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices)


def size_summary(sizes: list[tuple[int, int]]) -> dict:
    widths = np.asarray([w for w, _ in sizes], dtype=np.float64)
    heights = np.asarray([h for _, h in sizes], dtype=np.float64)
    aspect = widths / heights

    def describe(values: np.ndarray) -> dict:
        return {key: round(float(f(values)), 3) for key, f in
                (("min", np.min), ("median", np.median), ("max", np.max))}

    return {"width": describe(widths), "height": describe(heights), "aspect_w_over_h": describe(aspect)}


def split_record(loaded: LoadedImages) -> dict:
    return {
        "counts": {name: int((loaded.labels == k).sum()) for k, name in enumerate(CLASS_NAMES)},
        "image_size": size_summary(loaded.source_sizes),
        "unreadable": [str(path) for path, _ in loaded.skipped],
    }


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "opencv": cv2.__version__,
    }


def train(args: argparse.Namespace) -> ModelCard:
    """Run the whole pipeline and write the artifacts; returns the model card."""
    started = time.perf_counter()
    strategy = make_strategy(args.strategy)
    keras.utils.set_random_seed(args.seed)
    fit_files, val_files, val_source = training_splits(args.data, args.validation_fraction, args.seed)
    print(f"Loading {len(fit_files)} training and {len(val_files)} validation images ({val_source})", flush=True)
    fit_set = load_model_inputs(fit_files, args.image_size)
    val_set = load_model_inputs(val_files, args.image_size)
    selection_set, selection_name = val_set, "validation"
    if args.calibration_data is not None:
        selection_set = load_model_inputs(list_labelled_files(args.calibration_data), args.image_size)
        selection_name = str(args.calibration_data)
        print(f"Choosing the epoch on {len(selection_set.labels)} images of {selection_name}", flush=True)
    extra_skipped = selection_set.skipped if selection_set is not val_set else []
    for path, reason in fit_set.skipped + val_set.skipped + extra_skipped:
        print(f"  skipped {path}: {reason}", flush=True)
    steps_per_epoch = int(np.ceil(len(fit_set.labels) / args.batch_size))
    # Augmentation layers are built first, so they keep float32 whatever the network trains in.
    batches = training_dataset(fit_set, args.batch_size, args.seed)
    precision = resolve_precision(args.precision)
    print(f"Training in {precision}", flush=True)
    # Float32, built before the policy changes: it scores each epoch and becomes the shipped network.
    inference_network = build_network(args.image_size)
    selector = EpochSelection(selection_set, args.target_sensitivity, args.patience, inference_network)
    keras.mixed_precision.set_global_policy(precision)
    try:
        with strategy.scope():
            network = build_network(args.image_size)
            compile_network(
                network, args.learning_rate, steps_per_epoch * args.epochs, args.label_smoothing,
                args.ema_momentum,
            )
        history = network.fit(
            batches,
            validation_data=(val_set.inputs, val_set.labels.astype(np.float32)),
            epochs=args.epochs,
            class_weight=class_weights(fit_set.labels),
            callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch=True), selector],
            shuffle=False,
            verbose=2,
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    args.out.mkdir(parents=True, exist_ok=True)
    inference_network.set_weights(selector.best_weights)
    model_path = args.out / MODEL_FILE
    inference_network.save(model_path)

    uncalibrated = OperatingPoint(temperature=1.0, threshold=0.5, target_sensitivity=args.target_sensitivity)
    classifier = Classifier(inference_network, ModelCard(version="", image_size=args.image_size, point=uncalibrated))
    val_logits = classifier.logits(val_set.inputs)
    temperature = fit_temperature(val_logits, val_set.labels)
    val_probabilities = calibrated_probability(val_logits, temperature)
    threshold = choose_threshold(val_probabilities, val_set.labels, args.target_sensitivity)
    val_metrics = binary_metrics(val_set.labels, val_probabilities, threshold)
    root = Path(args.data)
    scores = Scores(
        [str(p.relative_to(root)) for p in val_set.paths], val_set.labels, val_logits, val_probabilities
    )
    write_scores(scores, args.out / VALIDATION_SCORES_FILE)
    ood = fit_ood(classifier, fit_set.inputs, val_set.inputs)
    save_ood(ood, args.out)
    wall_time = time.perf_counter() - started
    trained_on = datetime.now(UTC)
    version = f"{trained_on:%Y.%m.%d}-{file_digest(model_path)[:8]}"
    epochs_run = len(history.history["loss"])
    card = ModelCard(
        version=version,
        trained_at=trained_on.isoformat(timespec="seconds"),
        image_size=args.image_size,
        point=OperatingPoint(temperature, threshold, args.target_sensitivity),
        provenance=operating_point_record(
            "validation", str(root), val_set.labels, scores.files, trained_on, previous=None
        ),
        seed=args.seed,
        files={
            "model": MODEL_FILE,
            "validation_scores": VALIDATION_SCORES_FILE,
            "ood_stats": OOD_STATS_FILE,
            "ood_summary": OOD_SUMMARY_FILE,
        },
        ood=ood.summary,
        architecture={
            "summary": "grayscale input; stem conv stride 2; 4 stages of two 3x3 conv+BN+ReLU; "
            "global average pooling; dropout; one logit",
            "last_conv_layer": LAST_CONV_LAYER,
            "parameters": int(inference_network.count_params()),
            "output": "logit; probability = sigmoid(logit / temperature)",
        },
        preprocessing={
            "decode": "8-bit grayscale (16-bit rescaled, alpha composited on black, DICOM VOI LUT, "
            "MONOCHROME1 inverted)",
            "resize": f"{args.image_size}x{args.image_size}, aspect not kept, INTER_AREA",
            "clahe": {"clip_limit": CLAHE_CLIP_LIMIT, "tile_grid": list(CLAHE_TILES)},
        },
        data={
            "root": str(args.data),
            "validation_source": val_source,
            "train": split_record(fit_set),
            "validation": split_record(val_set),
        },
        hyperparameters={
            "epochs_max": args.epochs,
            "epochs_run": epochs_run,
            "best_epoch": selector.best_epoch + 1,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "schedule": "cosine decay",
            "optimizer": "AdamW, weight decay 1e-4",
            "loss": "binary cross-entropy on logits, class-weighted",
            "class_weights": {CLASS_NAMES[k]: w for k, w in class_weights(fit_set.labels).items()},
            "label_smoothing": args.label_smoothing,
            "weight_averaging": f"exponential moving average, momentum {args.ema_momentum}",
            "epoch_selection": {
                "data": selection_name,
                "counts": {name: int((selection_set.labels == k).sum()) for k, name in enumerate(CLASS_NAMES)},
                "rule": "the epoch whose averaged weights reach the highest AUROC on this set; "
                "its images are scored, never trained on",
                "patience": args.patience,
            },
            "validation_fraction": args.validation_fraction,
            "strategy": args.strategy,
            "precision": precision,
            "replicas": strategy.num_replicas_in_sync,
        },
        library_versions=library_versions(),
        training_wall_time_seconds=round(wall_time, 1),
        history={
            **{key: [round(float(v), 5) for v in values] for key, values in history.history.items()},
            "selection_auc": [round(v, 5) for v in selector.scores.auroc],
            "selection_specificity_at_target": [round(v, 5) for v in selector.scores.specificity],
        },
        calibration={
            "method": "temperature scaling",
            "fitted_on": "validation",
            "ece_before": reliability(val_set.labels, calibrated_probability(val_logits, 1.0))["ece"],
            "ece_after": reliability(val_set.labels, val_probabilities)["ece"],
        },
        validation_metrics=val_metrics,
    )
    write_card(card, args.out)
    print(format_summary(val_metrics, "Validation"), flush=True)
    print(
        f"Temperature {temperature:.3f}, threshold {threshold:.3f}; {epochs_run} epochs in {wall_time / 60:.1f} min. "
        f"Artifacts in {args.out} (version {version}).",
        flush=True,
    )
    if args.calibration_data is None:
        return card
    calibrated, result, _ = calibrate_model(args.out, Path(args.calibration_data), args.out, args.target_sensitivity)
    print_calibration(calibrated, result, card, args.calibration_data, args.out)
    return calibrated


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.data / "train").is_dir():
        print(f"error: {args.data} has no train/ folder", file=sys.stderr)
        return 2
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
