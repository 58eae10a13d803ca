# %% [markdown]
# # S09 · From slide labels to the patient's pN stage, scored by the quadratic weighted kappa
#
# **Prerequisites:** S09 needs G10 (metrics). Not written yet? S09 reads the sample features and the sample slide labels when S07, G08 or G09 are not written. The first code cell says which are still to write; a cell that reaches one stops with one line naming it.
#
# **Learning goals**
# - apply the pN staging rules of CAMELYON17 to the five node labels of a patient;
# - score stages as the challenge did: Cohen's kappa with quadratic weights over the ordered stages;
# - put your number next to the published CAMELYON17 results, and see which mistakes cost the most.
#
# **What you implement**
# - in `camelyon/staging.py`: `pn_stage` (region `S09`);
# - in `camelyon/evaluation.py`: the kappa formula in `quadratic_weighted_kappa` (region `S09`);
# - in this notebook: `stages_for_patients`.
#
# The self-check runs `pytest -m S09` (save the notebook first). Like S07, the notebook starts from the sample
# heatmaps unless `HEATMAP_DIR` says otherwise.
#
# **Preset.** The sample heatmaps come from the **easy**-preset demo cohort; `docs/synthetic.md` describes the
# **challenge** preset (look-alikes, isolated tumour cells, artefacts) and how the same models fare on it.

# %%
HEATMAP_DIR = None  # None: the sample heatmaps; or a folder of <slide>.npz heatmaps
DATA_DIR = None     # only with your own HEATMAP_DIR: the cohort folder holding stage_labels.csv

# %%
import sys
import pathlib

ROOT = next(p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents] if (p / "camelyon" / "__init__.py").exists())
sys.path[:0] = [str(ROOT), str(ROOT / "specific_exercises")]

from minicnn.teaching.progress import start_notebook

start_notebook("S09")  # what this notebook needs; an unwritten exercise stops a cell in one line

import matplotlib.pyplot as plt
import numpy as np

import course_data
from camelyon.evaluation import evaluate, quadratic_weighted_kappa
from camelyon.features import feature_names
from camelyon.staging import SLIDE_LABELS, STAGES, StageTable, patient_of, pn_stage
from minicnn.metrics import cohen_kappa_score, plot_confusion_matrix
from minicnn.teaching.selfcheck import self_check

heatmaps = course_data.load_heatmaps(HEATMAP_DIR)
reference = course_data.sample_stage_table(HEATMAP_DIR) if DATA_DIR is None else course_data.stage_table(DATA_DIR)
slides = sorted(heatmaps)
print(len(slides), "slides,", len({patient_of(s) for s in slides}), "patients")

# %% [markdown]
# ## 1. Background: the pN stage
#
# The TNM system stages breast cancer by the primary Tumour, the regional lymph Nodes and distant Metastases.
# The N part, from the pathologist's examination of the nodes, is the **pN stage**. CAMELYON17 uses five
# ordered stages, computed from the labels of a patient's five nodes (ITC do not count as metastases):
#
# | stage | rule |
# |---|---|
# | pN0 | no ITC, micro or macro |
# | pN0(i+) | only ITC |
# | pN1mi | micro-metastases, no macro |
# | pN1 | metastases (micro or macro) in 1-3 nodes, at least one macro |
# | pN2 | metastases (micro or macro) in 4-9 nodes, at least one macro |
#
# So four micro-metastatic nodes without a macro are still pN1mi. A pN2 patient gets more extensive treatment
# than a pN0 patient, which is why the score punishes far-off mistakes more.
#
# **Exercise.** Write `stages_for_patients(slide_labels)`: from a dict `{slide file name: slide label}`
# (e.g. `"patient_004_node_2.tif": "micro"`) return `{patient id: pN stage}` (e.g. `"patient_004": "pN1mi"`),
# grouping slides by `camelyon.staging.patient_of` and staging each group with `pn_stage`.

# %% [markdown]
# **Hints for `stages_for_patients`** (open one at a time)
#
# <details><summary>Hint 1: the idea</summary>
#
# The pN stage is a property of a patient, decided by the labels of all their lymph-node slides. Group the slide labels by patient, then stage each patient.
# </details>
#
# <details><summary>Hint 2: the formula</summary>
#
# stage(patient) = `pn_stage`([label of each of the patient's slides]) (the CAMELYON17 rules of section 1).
# </details>
#
# <details><summary>Hint 3: a sketch</summary>
#
# ```text
# a dict patient -> list of labels, filled by walking slide_labels (patient_of(slide) names the patient)
# return {patient: the pn_stage of that list}, patients sorted
# ```
# </details>

# %%
from camelyon.staging import patient_of, pn_stage


def stages_for_patients(slide_labels):
    """{patient id: pN stage} from {slide name: slide label}."""
    ### BEGIN SOLUTION (S09) group the labels by patient_of(slide), then pn_stage(labels) per patient
    by_patient = {}
    for slide, label in slide_labels.items():
        by_patient.setdefault(patient_of(slide), []).append(label)
    return {p: pn_stage(labels) for p, labels in sorted(by_patient.items())}
    ### END SOLUTION

# %%
# sanity: the reference slide labels give the reference stages
from_reference = stages_for_patients({s: reference.slides[s] for s in slides})
agree = sum(from_reference[p] == reference.patients[p] for p in from_reference)
print(f"reference labels -> reference stages for {agree} of {len(from_reference)} patients")

# %% [markdown]
# ## 2. Predicted slide labels -> predicted stages
#
# The slide labels come from a random forest on the heatmap features (S08), cross-validated with folds grouped
# by patient (`camelyon.slide_classifier.cross_validate`), so every patient is staged by a model that never saw
# it.

# %%
names = feature_names()
X = course_data.feature_matrix(heatmaps, slides, names, HEATMAP_DIR)  # your S07 features (or the sample ones)
y = np.array([reference.slides[s] for s in slides])
# your forest's cross-validated labels (camelyon.slide_classifier.cross_validate, 5 folds by patient, 100 trees),
# or the sample slide labels while G08/G09 are not written
predicted_labels = course_data.predicted_slide_labels(X, y, slides, names, HEATMAP_DIR)
predicted = stages_for_patients(predicted_labels)
patients = sorted(predicted)
print(f"slide-label accuracy {np.mean([predicted_labels[s] == reference.slides[s] for s in slides]):.1%}")
for p in patients:
    mark = "" if predicted[p] == reference.patients[p] else "   <- wrong"
    print(f"{p}: reference {reference.patients[p]:8s} predicted {predicted[p]:8s}{mark}")

# %% [markdown]
# ## 3. The quadratic weighted kappa
#
# Cohen's kappa compares the observed agreement with the agreement expected by chance from the two raters'
# label frequencies. With $O$ the confusion matrix of counts, $E = \frac{1}{n} r c^T$ the matrix expected by
# chance (outer product of row and column totals) and weights $w_{ij} = \frac{(i-j)^2}{(K-1)^2}$ for $K = 5$
# ordered stages:
#
# $$\kappa = 1 - \frac{\sum_{ij} w_{ij} O_{ij}}{\sum_{ij} w_{ij} E_{ij}}.$$
#
# 1 is perfect, 0 is chance; calling a pN2 patient pN0 costs 16 times a one-step mistake.

# %%
ref_idx = [STAGES.index(reference.patients[p]) for p in patients]
pred_idx = [STAGES.index(predicted[p]) for p in patients]
kappa = quadratic_weighted_kappa(ref_idx, pred_idx)
check = cohen_kappa_score(ref_idx, pred_idx, labels=list(range(5)), weights="quadratic")
print(f"quadratic weighted kappa {kappa:.4f} (minicnn.metrics.cohen_kappa_score: {check:.4f}) "
      f"on {len(patients)} patients")

# the challenge's way: a submission CSV scored against the reference CSV
from camelyon.staging import write_stage_csv

out = course_data.work_dir() / "s09_submission.csv"
ref_csv = course_data.work_dir() / "s09_reference.csv"
write_stage_csv(out, predicted, predicted_labels)
write_stage_csv(ref_csv, {p: reference.patients[p] for p in patients}, {s: reference.slides[s] for s in slides})
result = evaluate(ref_csv, out)
print(f"camelyon.evaluation.evaluate: kappa {result.kappa:.4f}, slide accuracy {result.slide_accuracy:.1%}")

# %% [markdown]
# ## 4. Which mistakes cost the most?
#
# Two what-ifs on the reference labels show where the score is won or lost: missing every ITC (no team in 2017
# found more than 40 % of them), and missing every micro-metastasis.

# %%
def kappa_of(slide_labels):
    st = stages_for_patients(slide_labels)
    return quadratic_weighted_kappa([STAGES.index(reference.patients[p]) for p in patients],
                                    [STAGES.index(st[p]) for p in patients])


true_labels = {s: reference.slides[s] for s in slides}
what_if = {
    "perfect slide labels": kappa_of(true_labels),
    "every ITC missed": kappa_of({s: ("negative" if v == "itc" else v) for s, v in true_labels.items()}),
    "every micro missed": kappa_of({s: ("negative" if v == "micro" else v) for s, v in true_labels.items()}),
    "this pipeline": kappa,
}
for k, v in what_if.items():
    print(f"{k:22s} kappa {v:.3f}")

# %% [markdown]
# ## 5. Against the CAMELYON17 results
#
# In the 2017 challenge 23 teams submitted 37 algorithms on 100 test patients; kappas ranged from 0.89 down to
# -0.13, and an ensemble of the top algorithms reached 0.93 (Bandi et al., IEEE TMI 2019). Later single methods
# reported 0.9203 (Lee & Paeng 2018) and 0.905 (PFA-ScanNet 2019). Our numbers come from a synthetic cohort of a
# few patients and a tiny CNN: they show the pipeline works, not that it would rank.

# %%
from minicnn.metrics import confusion_matrix

fig, axes = plt.subplots(1, 2, figsize=(13, 4.4))
cm = confusion_matrix(ref_idx, pred_idx, labels=list(range(5)))
plot_confusion_matrix(cm=cm, display_labels=list(STAGES), ax=axes[0],
                      title=f"pN stages (rows: reference), kappa {kappa:.3f}")
anchors = {"2017 winner": 0.89, "2017 top ensemble": 0.93, "Lee & Paeng 2018": 0.9203, "PFA-ScanNet 2019": 0.905,
           "this notebook": kappa}
colors = ["tab:grey"] * 4 + ["tab:red"]
axes[1].barh(list(anchors)[::-1], list(anchors.values())[::-1], color=colors[::-1])
axes[1].axvline(0, color="k", lw=0.8)
axes[1].set_xlim(min(-0.2, kappa - 0.1), 1.0)
axes[1].set_xlabel("quadratic weighted kappa")
axes[1].set_title(f"CAMELYON17 anchors vs this run ({len(patients)} synthetic patients)")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Questions.** (1) With 10 patients, how much does one wrong patient move the kappa? Compute it. (2) Why
# does the challenge use quadratic rather than unweighted kappa? (3) If your CNN misses all ITC, which stage
# confusion appears, and how much does it cost compared with missing a macro-metastasis?

# %% [markdown]
# ## Self-check
# Runs the tests marked `S09`: `pn_stage`, the kappa formula and your `stages_for_patients`.
#
# **Save the notebook first** (Ctrl-S): the tests read your functions from the saved file.

# %%
self_check("S09")
