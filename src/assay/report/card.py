"""The model card: the user's own text (a JSON / YAML file or a dict) shown beside text
generated from the Run (what it predicts, its data, its evaluation, its limits)."""

from __future__ import annotations

import json
from pathlib import Path

from assay.errors import DataFileError, MissingExtraError
from assay.report.audits import fmt

CARD_FIELDS = [          # (key, heading, what the generated text says when the user gives none)
    ("model_name", "Model", None),
    ("owner", "Owner / contact", None),
    ("intended_use", "Intended use", None),
    ("out_of_scope", "Out-of-scope uses", None),
    ("data", "Training data", None),
    ("evaluation", "Evaluation", None),
    ("limitations", "Limitations and caveats", None),
    ("ethical_considerations", "Ethical considerations", None),
]



def load_card(card) -> dict:
    """The user's model-card text: a dict, or a .json / .yaml / .yml file holding a mapping."""
    if isinstance(card, dict):
        d = card
    else:
        p = Path(card)
        suffix = p.suffix.lower()
        if not p.is_file():
            raise DataFileError(f"model card file '{p}' does not exist")
        if suffix not in (".json", ".yaml", ".yml"):
            raise DataFileError(f"model card file '{p}': use a .json, .yaml or .yml file")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DataFileError(f"model card file '{p}' could not be read: {e}") from None
        if suffix == ".json":
            try:
                d = json.loads(text)
            except ValueError as e:
                raise DataFileError(f"model card file '{p}' is not valid JSON: {e}") from None
        else:
            try:
                import yaml
            except ImportError:
                raise MissingExtraError("pyyaml", "report") from None
            try:
                d = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise DataFileError(f"model card file '{p}' is not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(d, dict):
        where = "" if isinstance(card, dict) else f" in '{card}'"
        raise DataFileError(f"the model card{where} must be a mapping of fields "
                            "(intended_use: ..., limitations: ...)")
    return {str(k): v for k, v in d.items()}


def model_card(run, user: dict, ctx: dict, card_src) -> dict:
    meta = run.meta
    members = meta.get("ensemble") or []
    ens = ", ".join(f"{m['member']} (weight {m['weight']:.2f}, {m['fit']})" for m in members) or "constant baseline"
    ev = ctx.get("evaluation")
    gen: dict[str, str] = {}
    gen["model_name"] = (f"{'Ensemble of ' + str(len(members)) + ' models' if members else 'Baseline'} predicting "
                         f"'{meta['target']}' ({meta['task']}); assay {meta.get('assay_version')}, created "
                         f"{meta.get('created', '?')}, seed {meta.get('seed')}. Members: {ens}.")
    classes = run.classes
    gen["intended_use"] = (f"Predict '{meta['target']}'"
                           + (f" (classes: {', '.join(map(str, classes[:10]))}{' ...' if len(classes) > 10 else ''})"
                              if classes else "")
                           + f" for rows shaped like the training data ({len(run.schema.features)} feature columns). "
                           "The purpose, users and decisions this model supports are not recorded in the Run: "
                           "state them in a card file (intended_use).")
    dropped = run.schema.dropped
    gen["data"] = (f"{meta.get('n_rows', 0):,} training rows, {len(run.schema.features)} features used"
                   + (f"; dropped: {', '.join(f'{k} ({v})' for k, v in list(dropped.items())[:8])}" if dropped else "")
                   + ". The source of the data is not recorded in the Run.")
    ev_text = (f"{meta['metric']} {fmt(meta.get('cv_score'))} by {meta.get('n_folds')}-fold "
               "cross-validation (out-of-fold predictions of the ensemble; the ensemble was selected on them, "
               "so this is slightly optimistic)")
    if ev is not None and ev["source"] == "heldout":
        main = next((m for m in ev["metrics"] if m["main"]), None)
        if main:
            ev_text += f"; {meta['metric']} {fmt(main['value'])} on {ev['label']}"
    gen["evaluation"] = ev_text + "."
    lim = []
    if meta.get("status") != "complete":
        lim.append(f"The fit ended with status '{meta.get('status')}': fewer models were tried than planned.")
    n = int(meta.get("n_rows") or 0)
    if n and n < 1000:
        lim.append(f"Trained on only {n} rows: scores carry wide uncertainty.")
    share = ctx["data"].get("minority_share")
    if share is not None and share < 0.1:
        lim.append(f"The rarest class makes up {share:.1%} of the training rows: accuracy is misleading; "
                   "read the precision-recall curve and per-class results.")
    if ev is not None and ev.get("ece") is not None and ev["ece"] > 0.05:
        lim.append(f"Probabilities are miscalibrated (expected calibration error {ev['ece']:.3f}): do not read "
                   "them as frequencies without recalibration.")
    if ev is None or ev["source"] != "heldout":
        lim.append("Performance here is measured on out-of-fold predictions of the training data, not on an "
                   "independent held-out set.")
    kinds = {s["title"] for s in ctx["audits"]["sections"]}
    if "Fairness" not in kinds:
        lim.append("No fairness audit is saved with this Run: differences in errors between groups have not "
                   "been measured.")
    lim.append("The model reflects the training data's population and period; it is not validated under "
               "distribution shift, and unseen categories are treated as missing.")
    lim += [f"Data warning: {w}" for w in meta.get("warnings", [])[:5]]
    gen["limitations"] = lim
    gen["out_of_scope"] = "Not stated. Add out_of_scope to a card file."
    gen["ethical_considerations"] = "Not stated. Add ethical_considerations to a card file."
    gen["owner"] = "Not stated. Add owner to a card file."
    fields = []
    for key, heading, _ in CARD_FIELDS:
        fields.append({"key": key, "heading": heading, "user": _as_list(user.get(key)) if key in user else None,
                       "generated": _as_list(gen.get(key))})
    known = {k for k, _, _ in CARD_FIELDS}
    for k, v in user.items():
        if k not in known:
            fields.append({"key": k, "heading": k.replace("_", " ").capitalize(), "user": _as_list(v),
                           "generated": []})
    src = None
    if card_src is not None:
        src = str(card_src) if not isinstance(card_src, dict) else "a dict passed to build_report"
    return {"fields": fields, "source": src}


def _as_list(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    if isinstance(v, dict):
        return [f"{k}: {x}" for k, x in v.items()]
    return [str(v)]
