"""NegEx-style polarity over clinical sentences: each case gives a sentence and, for each
mention, whether it is negated (True) or affirmed/hedged (False)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgnlu.kg.negation import Cue, hedge_cues, negated, negation_cues, polarity_cues


def spans_of(text: str, mentions: list[str]) -> list[tuple[int, int]]:
    out = []
    for m in mentions:
        i = text.index(m)
        out.append((i, i + len(m)))
    return out


CASES = [
    # pre-negation
    ("Patient denies fever but reports cough.", {"fever": True, "cough": False}),
    ("Negative for hematuria.", {"hematuria": True}),
    ("She has no fever, cough or rash.", {"fever": True, "cough": True, "rash": True}),
    ("Denies chest pain, shortness of breath, and palpitations.",
     {"chest pain": True, "shortness of breath": True, "palpitations": True}),
    ("The patient is without chest pain; however, she has dyspnea.", {"chest pain": True, "dyspnea": False}),
    ("MRI showed no evidence of focal seizure activity, although atrophy was noted.",
     {"focal seizure": True, "atrophy": False}),
    ("Abdomen is soft, nontender, with no hepatosplenomegaly.", {"hepatosplenomegaly": True}),
    ("He has never had a myocardial infarction.", {"myocardial infarction": True}),
    ("The wound is free of erythema and purulent drainage.", {"erythema": True, "purulent drainage": True}),
    ("CT of the head rules out intracranial hemorrhage.", {"CT": False, "intracranial hemorrhage": True}),
    ("There is absence of peripheral edema bilaterally.", {"peripheral edema": True}),
    ("Review of systems negative for fever, chills, night sweats, weight loss, dysuria or hematochezia.",
     {"fever": True, "chills": True, "night sweats": True, "weight loss": True, "dysuria": True,
      "hematochezia": True}),
    ("Neither nausea nor vomiting was reported.", {"nausea": True, "vomiting": True}),
    ("Patient does not have diabetes mellitus.", {"diabetes mellitus": True}),
    ("No family history of sudden cardiac death.", {"sudden cardiac death": True}),
    ("Urinalysis did not reveal proteinuria.", {"Urinalysis": False, "proteinuria": True}),
    ("Absent deep tendon reflexes at the ankles.", {"deep tendon reflexes": True}),
    ("Patient was ruled out for myocardial infarction.", {"Patient": False, "myocardial infarction": True}),
    # post-negation
    ("Pneumonia was ruled out.", {"Pneumonia": True}),
    ("Pulmonary embolism has been excluded by CT angiography.",
     {"Pulmonary embolism": True, "CT angiography": False}),
    ("Bowel sounds absent in all quadrants.", {"Bowel sounds": True}),
    ("Sepsis is unlikely given normal lactate.", {"Sepsis": True, "lactate": False}),
    ("Given the normal lactate, sepsis is unlikely.", {"lactate": False, "sepsis": True}),
    ("Fever, chills and rigors were absent.", {"Fever": True, "chills": True, "rigors": True}),
    ("Blood cultures were negative.", {"Blood cultures": True}),
    ("Fractures were not seen on the radiograph.", {"Fractures": True, "radiograph": False}),
    ("HIV antibody negative.", {"HIV antibody": True}),
    ("She has been seizure-free for two years.", {"seizure": True}),
    # pseudo-negation and hedges
    ("No increase in seizure frequency.", {"seizure": False}),
    ("Not only headache but also nausea.", {"headache": False, "nausea": False}),
    ("No change in the size of the pulmonary nodule.", {"pulmonary nodule": False}),
    ("Ambulates without difficulty; gait is ataxic.", {"ataxic": False}),
    ("Pulmonary embolism cannot be excluded.", {"Pulmonary embolism": False}),
    ("CT to rule out appendicitis.", {"appendicitis": False}),
    ("Gram-negative rods were isolated from the sputum.", {"rods": False, "sputum": False}),
    ("CT abdomen with or without contrast.", {"contrast": False}),
    # scope termination
    ("No fever. Cough for three days.", {"fever": True, "Cough": False}),
    ("Denies headache, but has photophobia.", {"headache": True, "photophobia": False}),
    ("No abdominal pain aside from mild epigastric discomfort.",
     {"abdominal pain": True, "epigastric discomfort": False}),
    ("No chest pain other than musculoskeletal tenderness.",
     {"chest pain": True, "musculoskeletal tenderness": False}),
    ("No bleeding as the cause of anemia.", {"bleeding": True, "anemia": False}),
    ("Denies fever, endorses productive cough.", {"fever": True, "productive cough": False}),
    ("No rash at the injection site at any point after the last visit when she noted pruritus.",
     {"rash": True, "pruritus": False}),
    ("She reports dysuria. There is no flank pain.", {"dysuria": False, "flank pain": True}),
    ("No seizures since starting levetiracetam.", {"seizures": True, "levetiracetam": False}),
    ("Tachycardia, which is not explained by fever.", {"Tachycardia": False, "fever": True}),
    # affirmed sentences
    ("The child had recurrent febrile seizures and microcephaly.",
     {"febrile seizures": False, "microcephaly": False}),
    ("Nothing to suggest malignancy; lymphadenopathy is reactive.",
     {"malignancy": True, "lymphadenopathy": False}),
    # lists wrapped over lines
    ("Denies fever, chills,\nnight sweats.\nReports cough.",
     {"fever": True, "chills": True, "night sweats": True, "cough": False}),
    ("No dysphagia\nOdynophagia present", {"dysphagia": True, "Odynophagia": False}),
    # a test's result: "was negative for" reads forward, before "was negative" takes the words back
    ("Chest X-ray was negative for pneumonia.", {"Chest X-ray": False, "pneumonia": True}),
    ("CT abdomen was negative for appendicitis but showed hepatomegaly.",
     {"CT abdomen": False, "appendicitis": True, "hepatomegaly": False}),
    # a negated family history negates what it names
    ("No other family history of neurological disease.", {"neurological disease": True}),
    ("No significant family history of cancer.", {"cancer": True}),
    ("Denies family history of heart disease.", {"heart disease": True}),
    ("Negative family history for diabetes.", {"diabetes": True}),
    ("Family history of diabetes.", {"diabetes": False}),
    ("Denies pain, family history of coronary artery disease.", {"pain": True, "coronary artery disease": False}),
    # a treatment that did not help leaves the finding there
    ("There was no improvement in his seizures.", {"seizures": False}),
    ("No relief of pain with ibuprofen.", {"pain": False, "ibuprofen": False}),
    ("The pain did not respond to ibuprofen.", {"pain": False, "ibuprofen": False}),
    # a bare "negative" denies only what it stands before
    ("Negative mood and anxiety.", {"anxiety": False}),
    ("Negative Babinski sign.", {"Babinski sign": True}),
    ("HIV negative hemolytic anemia was diagnosed.", {"HIV": True, "hemolytic anemia": False}),
    ("ANCA-negative vasculitis was found.", {"vasculitis": False}),
    ("Coombs negative hemolytic anemia.", {"hemolytic anemia": False}),  # the test's result, read backward
    ("Culture negative endocarditis was treated.", {"endocarditis": False}),
    ("ROS: negative headache.", {"headache": True}),
    ("She had a negative Babinski sign.", {"Babinski sign": True}),
    ("The tumor showed negative staining for CD20.", {"tumor": False}),  # no test named before "negative"
    ("Insulin resistance exerts negative feedback on diabetes.", {"Insulin resistance": False, "diabetes": False}),
    # cues added from the user audits, and their look-alikes
    ("Chronic cough w/o hemoptysis.", {"hemoptysis": True}),
    ("CT abdomen w/o contrast revealed appendicitis.", {"appendicitis": False}),  # a protocol, no denial
    ("No confirmed diagnosis of tuberculosis.", {"tuberculosis": True}),
    ("Imaging not suggestive of malignancy.", {"malignancy": True}),
    ("Seizures: none since last visit.", {"Seizures": True}),
    ("She had a seizure five years ago and none since.", {"seizure": False}),  # no recurrence, not no seizure
    ("Chest pain free at rest.", {"Chest pain": True}),
    ("Seizure free for two years.", {"Seizure": True}),
    ("TSH and free T4 were normal.", {"TSH": False}),  # a hormone, not a state
    ("The patient has no fever and has a cough.", {"fever": True, "cough": False}),
    # a refusal denies the care refused, not what it was for
    ("He declined surgery for the hernia.", {"hernia": False}),
    ("Patient refused evaluation of chest pain.", {"chest pain": False}),
    ("She refused aspirin and ibuprofen.", {"aspirin": True, "ibuprofen": True}),
    ("She refused to take aspirin.", {"aspirin": True}),
    ("Negative: fever, cough.", {"fever": True, "cough": True}),
    # "and with" turns the clause
    ("Patient without hepatomegaly, splenomegaly or ascites, and with jaundice.",
     {"hepatomegaly": True, "ascites": True, "jaundice": False}),
    ("Headache not associated with nausea and with photophobia.", {"nausea": True, "photophobia": True}),
    ("No significant improvement in dyspnea.", {"dyspnea": False}),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0][:40] for c in CASES])
def test_polarity(text, expected):
    mentions = list(expected)
    assert dict(zip(mentions, negated(text, spans_of(text, mentions)))) == expected


def test_case_count():
    assert len(CASES) >= 30


def test_cue_reports_trigger_and_direction():
    text = "MRI showed No Evidence Of focal seizure activity. Pneumonia was ruled out."
    pre, post = negation_cues(text, spans_of(text, ["focal seizure", "Pneumonia"]))
    assert pre == Cue("No Evidence Of", text.index("No Evidence"), text.index(" focal"), "pre")
    assert post.trigger == "was ruled out" and post.kind == "post"
    assert text[post.start:post.end] == "was ruled out"


def test_longest_trigger_wins():
    text = "No evidence of pneumonia."
    (cue,) = negation_cues(text, spans_of(text, ["pneumonia"]))
    assert cue.trigger == "No evidence of"


def test_either_trigger_direction():
    text = "Ruled out pneumonia. Meningitis ruled out."
    a, b = negation_cues(text, spans_of(text, ["pneumonia", "Meningitis"]))
    assert (a.kind, b.kind) == ("pre", "post")


def test_word_boundaries():
    # "not" inside "nothing"/"notable", "no" inside "nodule"/"normal" are not triggers.
    text = "Notable for a nodule; normal knowledge of anatomy."
    assert negated(text, spans_of(text, ["nodule", "anatomy"])) == [False, False]


def test_trigger_inside_a_mention_does_not_negate_it():
    text = "History of absence seizures and absent thumb."
    assert negated(text, spans_of(text, ["absence seizures", "absent thumb"])) == [False, False]


def test_nearest_cue_wins():
    text = "Denies cough and has no fever."
    cues = negation_cues(text, spans_of(text, ["cough", "fever"]))
    assert [c.trigger for c in cues] == ["Denies", "no"]


def test_window_limits_remote_mentions():
    text = "No fever was recorded at any point during the long admission despite tachycardia."
    assert negated(text, spans_of(text, ["fever", "tachycardia"])) == [True, False]


def test_period_inside_number_and_abbreviation_is_not_a_boundary():
    text = "No temperature above 38.5 degrees or rigors."
    assert negated(text, spans_of(text, ["rigors"])) == [True]
    text = "No fever, e.g. rigors."
    assert negated(text, spans_of(text, ["rigors"])) == [True]


def test_case_insensitive():
    text = "PATIENT DENIES CHEST PAIN."
    assert negated(text, spans_of(text, ["CHEST PAIN"])) == [True]


def test_no_spans_and_bad_spans():
    assert negation_cues("No fever.", []) == []
    with pytest.raises(ValueError):
        negation_cues("No fever.", [(3, 50)])


def test_overlapping_spans_share_polarity():
    text = "No focal seizure activity."
    assert negated(text, [(3, 16), (9, 16)]) == [True, True]


# (sentence, {mention: (negated, hedged)}): hedges leave the claim open and never flip polarity.
HEDGE_CASES = [
    ("Possible pneumonia.", {"pneumonia": (False, True)}),
    ("Findings suggestive of pneumonia.", {"pneumonia": (False, True)}),
    ("Possible pneumonia, definite pleural effusion.", {"pneumonia": (False, True), "pleural effusion": (False, False)}),
    ("Findings suggestive of pneumonia in a patient with COPD.", {"pneumonia": (False, True), "COPD": (False, False)}),
    ("Family history of diabetes and the patient has hypertension.", {"diabetes": (False, True),
                                                                      "hypertension": (False, False)}),
    ("Cannot rule out sepsis.", {"sepsis": (False, True)}),
    ("Rule out myocardial infarction.", {"myocardial infarction": (False, True)}),
    ("Pneumonia is suspected.", {"Pneumonia": (False, True)}),
    ("Suspected cystic fibrosis, sweat test pending.", {"cystic fibrosis": (False, True)}),
    ("Concern for meningitis.", {"meningitis": (False, True)}),
    ("Evaluate for hypothyroidism.", {"hypothyroidism": (False, True)}),
    ("Workup for lupus is pending.", {"lupus": (False, True)}),
    ("Does the patient have anemia?", {"anemia": (False, True)}),
    ("Could this be Marfan syndrome?", {"Marfan syndrome": (False, True)}),
    ("I'm worried I have diabetes.", {"diabetes": (False, True)}),
    ("Family history of epilepsy.", {"epilepsy": (False, True)}),
    ("No family history of seizures.", {"seizures": (True, True)}),
    ("Fever resolved with acetaminophen.", {"Fever": (False, True)}),
    ("Denies chest pain but reports possible palpitations.", {"chest pain": (True, False), "palpitations": (False, True)}),
    ("Sepsis was ruled out.", {"Sepsis": (True, False)}),
    ("No fever, cough or rash; focal seizures since May.", {"cough": (True, False), "focal seizures": (False, False)}),
    ("Is she febrile? Cough since Monday.", {"febrile": (False, True), "Cough": (False, False)}),
    ("The patient has focal seizures.", {"focal seizures": (False, False)}),
    ("Genetic testing confirmed Marfan syndrome.", {"Marfan syndrome": (False, False)}),
    ("Not certain if this is pneumonia.", {"pneumonia": (False, True)}),
    # "may" alone, the modal: it hedges the verb phrase after it, never what comes before it
    ("Aspirin may cause bleeding.", {"Aspirin": (False, False), "bleeding": (False, True)}),
    ("Common hedonic mechanisms may therefore underlie obesity and drug addiction.",  # Citation-Integrity
     {"obesity": (False, True), "drug addiction": (False, True)}),
    ("Because these tags may precede other stigmata of the NBCCS, recognition may facilitate early diagnosis.",
     {"NBCCS": (False, True)}),  # GSC+
    ("First, injected cannabinoids may not mirror the effects of smoked marijuana.",  # MNLI
     {"cannabinoids": (False, False)}),
    ("Effective RR monitoring would help in the current COVID-19 crisis and in scenarios that may possibly occur.",
     {"COVID-19": (False, False)}),  # Citation-Integrity, shortened
    ("The jury may or may not see fraud.", {"fraud": (False, True)}),
    # "May" the month (or a name) hedges nothing
    ("Seizures began in May 2020 and fever in May.", {"Seizures": (False, False), "fever": (False, False)}),
    ("On May 3 fever was noted; ataxia since 3 May.", {"fever": (False, False), "ataxia": (False, False)}),
    ("Up to 15 May, only two studies evaluated ChAdOx1.", {"ChAdOx1": (False, False)}),  # Citation-Integrity
    ("Seen by Dr. May for seizures.", {"seizures": (False, False)}),
    ("May 2020: fever and cough.", {"fever": (False, False), "cough": (False, False)}),
    ('"May this be asthma?" she asked. May she have anemia.', {"asthma": (False, True), "anemia": (False, True)}),
]

@pytest.mark.parametrize("text,mention,hedge", [
    ("? pulmonary embolism", "pulmonary embolism", "?"),
    ("Plan: CTPA for ?PE. Cough present.", "PE", "?"),
    ("Plan: CTPA for ?PE. Cough present.", "Cough", None),
    ("Fever, ? pneumonia, cough.", "pneumonia", "?"),
    ("Fever, ? pneumonia, cough.", "cough", None),
    ("Does he have fever? Yes, and cough.", "fever", "?"),
    ("Does he have fever? Yes, and cough.", "cough", None),
    ("Not sure whether she has asthma.", "asthma", "Not sure whether"),
])
def test_a_question_mark_before_a_diagnosis_queries_it(text, mention, hedge):
    (cue,) = hedge_cues(text, spans_of(text, [mention]))
    assert (cue.trigger if cue else None) == hedge
    assert negated(text, spans_of(text, [mention])) == [False]


def test_a_citation_marker_after_a_period_ends_the_sentence():
    text = "Anxiety was common.<|multi_cit|> Was depression common?"
    assert [c.trigger if c else None for c in hedge_cues(text, spans_of(text, ["Anxiety", "depression"]))] == [None, "?"]


def test_it_is_not_true_that_negates():
    text = "It is not true that the patient has a headache."
    assert negated(text, spans_of(text, ["headache"])) == [True]


EXPERIENCER_CASES = [
    ("Mother has type 2 diabetes mellitus.", {"type 2 diabetes mellitus": "mother"}),
    ("Her brother has sickle cell anemia.", {"sickle cell anemia": "brother"}),
    ("He has asthma and his father had a stroke.", {"asthma": None, "stroke": "father"}),
    ("Her mother reports that she has a fever.", {"fever": None}),
    ("She has sickle cell anemia like her brother.", {"sickle cell anemia": None}),
    ("My grandfather has orthostatic hypotension but not diabetes.", {"orthostatic hypotension": "grandfather",
                                                                       "diabetes": "grandfather"}),
    ("The doctor told us my daughter doesn't have goiter.", {"goiter": "daughter"}),
    ("My dad was found to have ACTH excess. I have asthma.", {"ACTH excess": "father", "asthma": None}),
    ("Her brother has asthma and she has eczema.", {"asthma": "brother", "eczema": None}),
    ("Family history of epilepsy.", {"epilepsy": None}),  # a hedge, not an experiencer: no one named
    ("The doctors ruled out milker's nodule for my grandmother. Fever.", {"milker's nodule": "grandmother",
                                                                          "Fever": None}),
    ("Seizures are common in children with Dravet syndrome.", {"Seizures": None}),
    ("Parent-of-origin effect and seizures.", {"Parent-of-origin effect": None, "seizures": None}),
    ("My father has a disease that causes seizures.", {"seizures": "father"}),
    ("Her husband found her on the floor having a seizure.", {"seizure": None}),  # a spouse is no relative here
    ("Brought in by her mother for confusion.", {"confusion": None}),  # the mother brought the patient
    ("Her mother found her with a fever.", {"fever": None}),  # the mother found the patient
    ("The patient and her mother both have asthma.", {"asthma": None}),  # the patient's, too
    ("This patient and his younger brother exhibited hearing loss.", {"hearing loss": None}),
    ("My mother and my sister have asthma.", {"asthma": "sister"}),  # a relative's, not the patient's
    ("Family history of colon cancer in maternal grandmother.", {"colon cancer": "grandmother"}),
    ("Our patient had cerebellar ataxia, which was also present in her maternal grandmother.",
     {"cerebellar ataxia": None}),  # shared, not claimed
    ("Her mother, found with a fever at home, was admitted with pneumonia.", {"fever": "mother", "pneumonia": "mother"}),
]


@pytest.mark.parametrize("text,expected", EXPERIENCER_CASES, ids=[c[0][:40] for c in EXPERIENCER_CASES])
def test_experiencers(text, expected):
    from kgnlu.kg.negation import experiencers

    spans = spans_of(text, list(expected))
    assert experiencers(text, spans) == list(expected.values())
    if not text.startswith("Family"):
        assert hedge_cues(text, spans) == [None] * len(spans)  # asserted, of someone else


@pytest.mark.parametrize("text,expected", [
    ("Family history of epilepsy.", {"epilepsy": "family"}),
    ("No family history of sudden cardiac death; he has asthma.", {"sudden cardiac death": "family", "asthma": None}),
    ("Family history of colon cancer in her brother.", {"colon cancer": "brother"}),  # the relative it names
    ("Possible pneumonia.", {"pneumonia": None}),  # a hedge of another kind
])
def test_family_history_is_the_family_s(text, expected):
    from kgnlu.kg.negation import experiencers

    spans = spans_of(text, list(expected))
    assert experiencers(text, spans, hedges=hedge_cues(text, spans)) == list(expected.values())


@pytest.mark.parametrize("text,expected", HEDGE_CASES, ids=[c[0][:40] for c in HEDGE_CASES])
def test_hedges(text, expected):
    mentions = list(expected)
    neg, hedge = polarity_cues(text, spans_of(text, mentions))
    got = {m: (n is not None, h is not None) for m, n, h in zip(mentions, neg, hedge)}
    assert got == expected
    assert [c is not None for c in hedge_cues(text, spans_of(text, mentions))] == [v[1] for v in expected.values()]
    assert negated(text, spans_of(text, mentions)) == [v[0] for v in expected.values()]


def test_question_mark_is_the_hedge_cue():
    text = "Any history of asthma?"
    (cue,) = hedge_cues(text, spans_of(text, ["asthma"]))
    assert cue.trigger == "?" and cue.start == len(text) - 1


def test_a_relative_inside_a_name_is_no_person_but_inside_a_guess_is():
    from kgnlu.kg.negation import experiencers

    text = "My father eats fruit."
    spans = [(3, 14), (15, 20)]  # a dense guess "father eats", and "fruit"
    assert experiencers(text, spans) == [None, None]  # both taken as names: no person named
    assert experiencers(text, spans, names=[(15, 20)]) == [None, "father"]


def test_cue_spans_are_the_cues_outside_the_mentions():
    from kgnlu.kg.negation import cue_spans

    text = "Negative for headache; possible pneumonia, but no fever. Family history of asthma."
    found = [text[a:b] for a, b in cue_spans(text)]
    assert found == ["Negative for", "possible", "but", "no", "Family history of"]
    # A cue word inside a mention is the mention's ("No" in a name), not a cue.
    at = text.index("no fever")
    assert "no" not in [text[a:b] for a, b in cue_spans(text, [(at, at + 8)])]


# Letters that fold to more than one letter ("ß", "İ", "ﬁ"), a final sigma, combining accents,
# both apostrophes, digits, underscores, newlines and punctuation: where a fast tokenizer can slip.
_TRICKY = "aZ9 ß İﬁΣς é\u0301'’_-.,;:?!\n\t()µ"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_TRICKY, max_size=60) | st.text(max_size=40))
def test_tokens_are_the_plain_regex_tokens_casefolded(text):
    """``_tokens`` (columns, one split and one casefold per text) says exactly what the plain
    definition says: each token of this pattern, casefolded, with "’" read as "'"."""
    import re

    from kgnlu.kg.negation import _tokens

    plain = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+(?:['’](?:[^\W_])+)*|\n|[^\w\s]|_")
    want = [(m.start(), m.end(), m.group().casefold().replace("’", "'")) for m in plain.finditer(text)]
    toks = _tokens(text)
    assert list(zip(toks.starts, toks.ends, toks.lows)) == want
