"""The report's HTML: one Jinja2 template with its CSS inline (no scripts, fonts or links
to anywhere: the page opens offline). `render(ctx)` fills it from `builder`'s context."""

from __future__ import annotations

from assay.errors import MissingExtraError

CSS = """
:root { --ink:#1f2430; --muted:#5f6b7a; --line:#e3e7ee; --bg:#f6f8fb; --accent:#1e63b5; --good:#2e7d32; --warn:#b26a00; }
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body { margin:0; font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color:var(--ink); background:#fff; line-height:1.5; font-size:15px; }
nav.toc { position:fixed; top:0; left:0; bottom:0; width:230px; padding:22px 18px; background:var(--bg);
          border-right:1px solid var(--line); overflow-y:auto; font-size:14px; }
nav.toc .brand { font-weight:700; font-size:16px; margin-bottom:2px; }
nav.toc .sub { color:var(--muted); font-size:12px; margin-bottom:16px; word-break:break-all; }
nav.toc ol { list-style:none; padding:0; margin:0; counter-reset: s; }
nav.toc li { margin:2px 0; }
nav.toc li.sub2 { padding-left:14px; font-size:13px; }
nav.toc a { color:var(--ink); text-decoration:none; display:block; padding:3px 8px; border-radius:5px; }
nav.toc a:hover { background:#e6edf7; color:var(--accent); }
main { margin-left:230px; padding:28px 44px 60px; max-width:1180px; }
header h1 { margin:0 0 4px; font-size:26px; }
header .meta { color:var(--muted); font-size:13px; }
section { border-top:1px solid var(--line); padding-top:10px; margin-top:34px; }
h2 { font-size:21px; margin:8px 0 10px; }
h3 { font-size:16px; margin:22px 0 8px; }
h4 { font-size:14px; margin:16px 0 6px; color:#334; }
h5, h6 { font-size:13px; margin:12px 0 4px; color:#445; }
p.lead { color:var(--muted); margin-top:0; }
.muted { color:var(--muted); }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(200px, 1fr)); gap:12px; margin:18px 0 6px; }
.card { border:1px solid var(--line); border-radius:9px; padding:12px 14px; background:#fff;
        box-shadow:0 1px 2px rgba(20,30,50,.04); }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:24px; font-weight:650; margin:2px 0; word-break:break-word; }
.card .sub { color:var(--muted); font-size:12px; word-break:break-word; }
.callout { background:#eef4fc; border-left:4px solid var(--accent); padding:9px 14px; border-radius:4px; margin:12px 0; }
.callout.warn { background:#fff6e8; border-left-color:var(--warn); }
table { border-collapse:collapse; font-size:13px; margin:8px 0; }
table.data, table.kv { min-width:300px; }
table.data th, table.data td, table.grid td { border-bottom:1px solid var(--line); padding:5px 10px; text-align:left;
                                              vertical-align:top; }
table.data thead th { background:var(--bg); position:sticky; top:0; font-weight:600; border-bottom:2px solid var(--line); }
table.data tbody tr:nth-child(even) { background:#fafbfd; }
table.data td.num, table.data th.num { text-align:right; font-variant-numeric: tabular-nums; }
table.kv th { text-align:left; padding:4px 14px 4px 0; color:var(--muted); font-weight:500; vertical-align:top; }
table.kv td { padding:4px 0; }
tr.member td { background:#eef7ee !important; }
tr.failed td { color:#9a3b3b; }
.scroll { overflow-x:auto; max-width:100%; }
details { margin:6px 0; }
details summary { cursor:pointer; color:var(--accent); }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size:12px; }
pre { background:var(--bg); padding:8px; border-radius:5px; white-space:pre-wrap; word-break:break-all; }
.figs { display:grid; grid-template-columns:repeat(auto-fill, minmax(430px, 1fr)); gap:18px; margin:10px 0; }
figure { margin:0; border:1px solid var(--line); border-radius:9px; padding:10px; background:#fff; }
figure.wide { grid-column:1 / -1; }
figure img { max-width:100%; height:auto; display:block; margin:0 auto; }
figcaption { font-size:13px; color:var(--muted); margin-top:6px; }
.card-field { border:1px solid var(--line); border-radius:8px; padding:10px 14px; margin:10px 0; }
.card-field h3 { margin:0 0 6px; font-size:15px; }
.card-field .yours { border-left:3px solid var(--good); padding-left:10px; margin:4px 0; }
.card-field .gen { border-left:3px solid var(--line); padding-left:10px; color:#3a4454; margin:4px 0; }
.tag { display:inline-block; font-size:11px; padding:1px 7px; border-radius:10px; background:var(--bg);
       border:1px solid var(--line); color:var(--muted); margin-left:6px; vertical-align:middle; }
.tag.good { color:var(--good); border-color:#bfe0c1; background:#f1f9f1; }
ul.tight { margin:4px 0; padding-left:20px; }
.big { font-size:20px; font-weight:650; }
footer { margin-top:50px; color:var(--muted); font-size:12px; }
@media (max-width: 900px) { nav.toc { position:static; width:auto; border-right:none; border-bottom:1px solid var(--line); }
                             main { margin-left:0; padding:18px; } }
@media print { nav.toc { display:none; } main { margin-left:0; } }
"""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="assay {{ meta.assay_version }}">
<title>{{ title }}</title>
<link rel="icon" href="data:,">
<style>{{ css|safe }}</style>
</head>
<body>
<nav class="toc" aria-label="Contents">
  <div class="brand">assay report</div>
  <div class="sub">{{ run_name }}</div>
  <ol>
    <li><a href="#summary">Summary</a></li>
    <li><a href="#model-card">Model card</a></li>
    <li><a href="#data">Data</a></li>
    <li><a href="#leaderboard">Leaderboard</a></li>
    <li><a href="#search">Search trajectory</a></li>
    <li><a href="#performance">Performance</a></li>
    <li><a href="#explanations">Explanations</a></li>
    <li><a href="#audits">Audits</a></li>
    {% for s in audits.sections %}<li class="sub2"><a href="#{{ s.id }}">{{ s.title }}</a></li>
    {% endfor %}
    <li><a href="#energy">Energy and CO&#8322;</a></li>
    <li><a href="#reproducibility">Reproducibility</a></li>
  </ol>
</nav>
<main>
<header>
  <h1>{{ title }}</h1>
  <div class="meta">Run <code>{{ run_name }}</code> &middot; fit {{ meta.created }} &middot; report generated {{ generated }} in __BUILD_SECONDS__ s</div>
</header>

<section id="summary">
  <h2>Summary</h2>
  <div class="cards">
  {% for c in headline %}<div class="card"><div class="label">{{ c.label }}</div><div class="value">{{ c.value }}</div><div class="sub">{{ c.sub }}</div></div>
  {% endfor %}
  </div>
  {% if evaluation %}
  <div class="callout{% if evaluation.source != 'heldout' %} warn{% endif %}">
    {% if evaluation.source == 'heldout' %}Performance and explanations below are measured on <b>{{ evaluation.label }}</b> given as held-out data (the scores are independent of the fit only if the model never trained on these rows).
    {% else %}No held-out data was given: performance below is measured on <b>{{ evaluation.label }}</b> (each row predicted by models that did not train on it). The ensemble was chosen on these same predictions, so they are slightly optimistic. Pass <code>--data HELDOUT.csv</code> for an independent check and SHAP plots.{% endif %}
  </div>
  {% endif %}
</section>

<section id="model-card">
  <h2>Model card</h2>
  <p class="lead">What this model is for, what it was trained and evaluated on, and where it should not be trusted.
  {% if card.source %}Text marked <span class="tag good">from the card</span> comes from <code>{{ card.source }}</code>;{% else %}Write your own text in a card file (JSON or YAML with keys such as <code>intended_use</code>, <code>out_of_scope</code>, <code>owner</code>, <code>limitations</code>, <code>ethical_considerations</code>) and pass <code>--card card.yaml</code>;{% endif %}
  text marked <span class="tag">generated</span> is derived from the Run.</p>
  {% for f in card.fields %}
  <div class="card-field" id="card-{{ f.key }}">
    <h3>{{ f.heading }}</h3>
    {% if f.user %}<div class="yours"><span class="tag good">from the card</span>{% if f.user|length == 1 %} {{ f.user[0] }}{% else %}<ul class="tight">{% for x in f.user %}<li>{{ x }}</li>{% endfor %}</ul>{% endif %}</div>{% endif %}
    {% if f.generated %}<div class="gen"><span class="tag">generated</span>{% if f.generated|length == 1 %} {{ f.generated[0] }}{% else %}<ul class="tight">{% for x in f.generated %}<li>{{ x }}</li>{% endfor %}</ul>{% endif %}</div>{% endif %}
  </div>
  {% endfor %}
</section>

<section id="data">
  <h2>Data</h2>
  <p class="lead">{{ "{:,}".format(data.n_rows or 0) }} training rows; {{ data.n_features }} of {{ data.columns|length }} columns used as features; target <code>{{ meta.target }}</code>.{% if data.has_heldout %} The last column shows missing values in the held-out data.{% endif %}</p>
  {% if data.plot %}<div class="figs"><figure><img src="{{ data.plot }}" alt="target distribution"><figcaption>{% if task == 'regression' %}Distribution of the target in the training rows{% if data.has_heldout %} and the held-out rows (a shift between them makes the held-out score differ from cross-validation){% endif %}.{% else %}Share of each class in the training rows{% if data.has_heldout %} and the held-out rows{% endif %}. With unequal classes, prefer ROC AUC, balanced accuracy and the precision-recall curve over plain accuracy.{% endif %}</figcaption></figure>
  <div>{{ table(data.balance) }}</div></div>{% endif %}
  <h3>Schema</h3>
  <div class="scroll"><table class="data"><thead><tr><th>column</th><th>kind</th><th>dtype</th><th class="num">unique</th><th class="num">missing (training)</th>{% if data.has_heldout %}<th class="num">missing (held-out)</th>{% endif %}<th>used</th><th>note</th></tr></thead><tbody>
  {% for c in data.columns %}<tr><td><code>{{ c.name }}</code></td><td>{{ c.kind }}</td><td>{{ c.dtype }}</td><td class="num">{{ c.unique }}</td><td class="num">{{ c.missing }}</td>{% if data.has_heldout %}<td class="num">{{ c.heldout_missing }}</td>{% endif %}<td>{{ c.used }}</td><td class="muted">{{ c.note }}</td></tr>
  {% endfor %}</tbody></table></div>
  {% if data.warnings %}<h3>Warnings from validation</h3><ul>{% for w in data.warnings %}<li>{{ w }}</li>{% endfor %}</ul>{% endif %}
</section>

<section id="leaderboard">
  <h2>Leaderboard</h2>
  <p class="lead">Every model tried, best first by cross-validated {{ metric }} ({{ 'higher' if greater else 'lower' }} is better). Rows in green are members of the final ensemble (weight = its share). <code>fit s</code>: fitting time over all folds; <code>trial s</code>: wall time of the trial; <code>peak mb</code>: the worker's peak memory.</p>
  <div class="scroll"><table class="data"><thead><tr>{% for c in leaderboard.columns %}<th>{{ c }}</th>{% endfor %}<th>parameters</th></tr></thead><tbody>
  {% for r in leaderboard.rows %}{{ lbrow(r) }}{% endfor %}
  </tbody></table></div>
  {% if leaderboard.more %}<details><summary>{{ leaderboard.more|length }} more rows</summary><div class="scroll"><table class="data"><thead><tr>{% for c in leaderboard.columns %}<th>{{ c }}</th>{% endfor %}<th>parameters</th></tr></thead><tbody>
  {% for r in leaderboard.more %}{{ lbrow(r) }}{% endfor %}</tbody></table></div></details>{% endif %}
</section>

<section id="search">
  <h2>Search trajectory</h2>
  {% if search.plot %}
  <p class="lead">{{ search.n }} trial{{ 's' if search.n != 1 else '' }} ({{ search.note }}). {% if search.best %}The best single model (trial {{ search.best.trial }}, {{ search.best.family }}) was found after {{ "%.1f"|format(search.best.t) }} s.{% endif %}</p>
  <div class="figs"><figure class="wide"><img src="{{ search.plot }}" alt="search trajectory"><figcaption>Each dot is one trial's cross-validated {{ metric }} at the time it finished, coloured by model family; the black step line is the best score so far. A line that is still climbing at the end means a longer time limit would likely help; a flat line means the search had converged. Failed trials (time limit, memory, errors) are marked &times; on the axis.</figcaption></figure></div>
  <h3>By family</h3>{{ table(search.families) }}
  {% else %}<p class="muted">No trials recorded.</p>{% endif %}
</section>

<section id="performance">
  <h2>Performance</h2>
  {% if evaluation %}
  <p class="lead">On {{ evaluation.label }}.</p>
  <table class="data"><thead><tr><th>metric</th><th class="num">value</th><th>better</th></tr></thead><tbody>
  {% for m in evaluation.metrics %}<tr{% if m.main %} class="member"{% endif %}><td>{{ m.name }}{% if m.main %} <span class="tag">optimised</span>{% endif %}</td><td class="num">{{ fmt(m.value) }}</td><td>{{ m.better }}</td></tr>{% endfor %}
  </tbody></table>
  <div class="figs">{% for f in evaluation.figures %}<figure{% if f.get('wide') %} class="wide"{% endif %}><img src="{{ f.uri }}" alt="performance plot"><figcaption>{{ f.caption }}</figcaption></figure>{% endfor %}</div>
  {% else %}<p class="muted">This Run holds no out-of-fold predictions and no held-out data was given: pass <code>--data HELDOUT.csv</code> (with the target column).</p>{% endif %}
</section>

<section id="explanations">
  <h2>Explanations</h2>
  {% if explain.meta %}
  <p class="lead">SHAP values of the final ensemble for a random sample of {{ explain.meta.rows }} of the {{ "{:,}".format(explain.meta.of) }} held-out rows, in {{ explain.meta.space }}; {{ 'exact' if explain.meta.exact else 'approximate' }} (largest additivity error {{ fmt(explain.meta.additivity) }}); computed in {{ "%.1f"|format(explain.meta.seconds) }} s. A SHAP value is how much a feature moved one prediction away from the average prediction.</p>
  {% endif %}
  {% if explain.note %}<div class="callout">{{ explain.note }}</div>{% endif %}
  {% if explain.table %}<h3>Most important features</h3>{{ table(explain.table) }}{% endif %}
  {% if explain.members %}<details><summary>How each ensemble member was explained</summary>{{ table(explain.members) }}</details>{% endif %}
  <div class="figs">{% for f in explain.figures %}<figure><img src="{{ f.uri }}" alt="explanation plot"><figcaption>{{ f.caption }}</figcaption></figure>{% endfor %}</div>
</section>

<section id="audits">
  <h2>Audits</h2>
  {% if audits.sections or audits.extra_plots %}
  <p class="lead">Results saved under <code>audit/</code> of the Run by <code>assay explain</code> and the other audit commands, shown as they were saved.</p>
  {% for s in audits.sections %}
  <div id="{{ s.id }}"><h3>{{ s.title }} <span class="tag">{{ s.file }}</span></h3>
  {{ s.html|safe }}
  {% if s.plots %}<div class="figs">{% for p in s.plots %}<figure><img src="{{ p.uri }}" alt="{{ p.name }}"><figcaption><code>audit/{{ p.name }}</code></figcaption></figure>{% endfor %}</div>{% endif %}
  </div>
  {% endfor %}
  {% if audits.extra_plots %}<h3>Other audit plots</h3><div class="figs">{% for p in audits.extra_plots %}<figure><img src="{{ p.uri }}" alt="{{ p.name }}"><figcaption><code>audit/{{ p.name }}</code></figcaption></figure>{% endfor %}</div>{% endif %}
  {% else %}
  <p class="muted">No audits are saved with this Run. <code>assay explain RUN --data FILE --plots</code> (and the fairness, robustness and privacy audits) write their results to <code>RUN/audit/</code>; the next report shows them here.</p>
  {% endif %}
  {% for n in audits.notes %}<p class="muted">{{ n }}</p>{% endfor %}
</section>

<section id="energy">
  <h2>Energy and CO&#8322;</h2>
  <div class="cards">
    <div class="card"><div class="label">CPU time of the fit</div><div class="value">{{ "%.0f"|format(energy.e.cpu_seconds) }} s</div><div class="sub">{{ energy.e.method }}; {{ "%.2f"|format(energy.e.mean_busy_cores) }} cores busy on average</div></div>
    <div class="card"><div class="label">energy</div><div class="value">{{ "%.3g"|format(energy.e.wh) }} Wh</div><div class="sub">at {{ energy.e.watts_per_core }} W per busy core</div></div>
    <div class="card"><div class="label">estimated CO&#8322;e</div><div class="value">{{ "%.3g"|format(energy.e.co2_g) }} g</div><div class="sub">at {{ energy.e.grid_g_per_kwh }} g CO&#8322;e / kWh; about {{ "%.3g"|format(energy.e.car_m) }} m by car</div></div>
  </div>
  <p><b>Method.</b> Energy = CPU seconds &times; {{ energy.e.watts_per_core }} W per busy core; CO&#8322;e = energy &times; {{ energy.e.grid_g_per_kwh }} g per kWh. CPU seconds are {{ energy.e.how }}. {{ energy.e.watts_per_core }} W per core is roughly a server or desktop CPU's rated power (TDP) divided by its cores, on the generous side; {{ energy.e.grid_g_per_kwh }} g CO&#8322;e/kWh is a world-average grid. Memory, disks, cooling and the idle power of the machine are not counted, and CodeCarbon is not used (no hardware counters or network needed). For your own figures: <code>assay report RUN --watts-per-core W --grid-intensity G</code>.</p>
  <div class="figs"><div><h3>Wall time by phase</h3>{{ table(energy.phases) }}</div>
  {% if energy.families %}<div><h3>Trial wall time by family</h3>{{ table(energy.families) }}</div>{% endif %}</div>
</section>

<section id="reproducibility">
  <h2>Reproducibility</h2>
  <p class="lead">Seed {{ meta.seed }}; assay {{ meta.assay_version }}; Run format {{ meta.get("format_version", 1) }}.{% if repro.path %} Loaded from <code>{{ repro.path }}</code>.{% endif %}</p>
  {% if repro.drift %}<div class="callout warn">Library versions differ from those the Run was fit with ({{ repro.drift|join(', ') }}): predictions may differ slightly.</div>{% endif %}
  <div class="figs"><div><h3>Fit configuration</h3>{{ kv(repro.config) }}</div><div><h3>Library versions</h3>{{ table(repro.versions) }}</div></div>
</section>
<footer>Generated by assay {{ meta.assay_version }}. This page is self-contained: no scripts, and nothing is loaded from the network.</footer>
</main>
</body>
</html>
"""

MACROS = r"""
{% macro table(rows) -%}
{% if rows %}<div class="scroll"><table class="data"><thead><tr>{% for k in rows[0].keys() %}<th>{{ k }}</th>{% endfor %}</tr></thead><tbody>
{% for r in rows %}<tr>{% for k, v in r.items() %}<td{% if isnum(v) %} class="num"{% endif %}>{{ fmt(v) }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>{% else %}<p class="muted">(none)</p>{% endif %}
{%- endmacro %}
{% macro kv(d) -%}
<table class="kv">{% for k, v in d.items() %}<tr><th>{{ k|replace('_', ' ') }}</th><td>{{ fmt(v) if v is not mapping else v|tojson }}</td></tr>{% endfor %}</table>
{%- endmacro %}
{% macro lbrow(r) -%}
<tr class="{% if r.member %}member{% endif %}{% if r.failed %} failed{% endif %}">{% for c in r.cells %}<td{% if loop.index0 > 2 %} class="num"{% endif %}>{{ c }}</td>{% endfor %}<td>{% if r.params %}<details><summary>show</summary><code>{{ r.params }}</code></details>{% endif %}{% if r.error %}<span class="muted">{{ r.error }}</span>{% endif %}</td></tr>
{%- endmacro %}
"""


def render(ctx: dict) -> str:
    try:
        import jinja2
    except ImportError:
        raise MissingExtraError("jinja2", "report") from None
    from assay.report.audits import fmt

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)
    env.globals.update(fmt=_fmt(fmt), isnum=_isnum, css=CSS)
    tmpl = env.from_string(MACROS + TEMPLATE)
    return tmpl.render(**ctx)


def _fmt(fmt):
    def f(v):
        if isinstance(v, list):
            return ", ".join(fmt(x) for x in v)
        if isinstance(v, dict):
            return ", ".join(f"{k}: {fmt(x)}" for k, x in v.items())
        return fmt(v)
    return f


def _isnum(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
