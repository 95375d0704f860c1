"""The closed vocabularies of the case and plan contract (b12plan.case/1, b12plan.plan/1).

Every code here is part of the public contract: add, never rename or drop.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "LOINC_ALIASES",
    "NEUROLOGICAL_SYMPTOMS",
    "AlertLevel",
    "Cause",
    "Condition",
    "EventKind",
    "Formulation",
    "LabTest",
    "Route",
    "Sex",
    "Stage",
    "Status",
    "Symptom",
    "SymptomCourse",
]


class LabTest(StrEnum):
    B12_TOTAL = "b12_total"
    HOLOTC = "holotc"
    MMA = "mma"
    HOMOCYSTEINE = "homocysteine"
    HB = "hb"
    MCV = "mcv"
    FOLATE = "folate"
    POTASSIUM = "potassium"
    RETICULOCYTES = "reticulocytes"
    IFAB = "ifab"
    INR = "inr"


# LOINC codes accepted as aliases of our test codes (ECOSYSTEM.md, "Codes (LOINC, UCUM) for labs").
LOINC_ALIASES: dict[str, LabTest] = {
    "2132-9": LabTest.B12_TOTAL,
    "14685-2": LabTest.B12_TOTAL,
    "72160-5": LabTest.HOLOTC,
    "13964-2": LabTest.MMA,
    "13965-9": LabTest.HOMOCYSTEINE,
    "718-7": LabTest.HB,
    "787-2": LabTest.MCV,
    "2284-8": LabTest.FOLATE,
    "14732-2": LabTest.FOLATE,
    "2823-3": LabTest.POTASSIUM,
    "17849-1": LabTest.RETICULOCYTES,
    "60474-4": LabTest.RETICULOCYTES,
    "31443-5": LabTest.IFAB,
    "31444-3": LabTest.IFAB,
    "6301-6": LabTest.INR,
    "34714-6": LabTest.INR,
}


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class Symptom(StrEnum):
    FATIGUE = "fatigue"
    GLOSSITIS = "glossitis"
    BREATHLESSNESS = "breathlessness"
    PARAESTHESIA = "paraesthesia"
    NUMBNESS = "numbness"
    ATAXIA = "ataxia"
    VIBRATION_LOSS = "vibration_loss"
    PROPRIOCEPTION_LOSS = "proprioception_loss"
    WEAKNESS = "weakness"
    COGNITIVE = "cognitive"
    PSYCHIATRIC = "psychiatric"
    VISUAL = "visual"


# CONTRACT.md: "neurological: paraesthesia through visual".
NEUROLOGICAL_SYMPTOMS: frozenset[Symptom] = frozenset(
    {
        Symptom.PARAESTHESIA,
        Symptom.NUMBNESS,
        Symptom.ATAXIA,
        Symptom.VIBRATION_LOSS,
        Symptom.PROPRIOCEPTION_LOSS,
        Symptom.WEAKNESS,
        Symptom.COGNITIVE,
        Symptom.PSYCHIATRIC,
        Symptom.VISUAL,
    }
)


class SymptomCourse(StrEnum):
    NEW = "new"
    STABLE = "stable"
    IMPROVING = "improving"
    WORSENING = "worsening"


class Cause(StrEnum):
    DIET_VEGAN = "diet_vegan"
    DIET_LOW_ANIMAL = "diet_low_animal"
    AUTOIMMUNE_GASTRITIS = "autoimmune_gastritis"
    GASTRECTOMY = "gastrectomy"
    BARIATRIC_SURGERY = "bariatric_surgery"
    ILEAL_RESECTION = "ileal_resection"
    CROHNS = "crohns"
    METFORMIN = "metformin"
    PPI = "ppi"
    H2RA = "h2ra"
    COLCHICINE = "colchicine"
    ANTICONVULSANT = "anticonvulsant"
    NITROUS_OXIDE = "nitrous_oxide"
    UNKNOWN = "unknown"


class Condition(StrEnum):
    LEBER_OPTIC_NEUROPATHY = "leber_optic_neuropathy"
    COBALT_ALLERGY = "cobalt_allergy"
    B12_HYPERSENSITIVITY = "b12_hypersensitivity"
    ANTICOAGULANT = "anticoagulant"
    BLEEDING_DISORDER = "bleeding_disorder"
    RENAL_IMPAIRMENT = "renal_impairment"
    MYELOMA = "myeloma"
    HIV = "hiv"
    HORMONAL_CONTRACEPTION = "hormonal_contraception"
    HRT = "hrt"
    BIOTIN = "biotin"
    TAKING_FOLIC_ACID = "taking_folic_acid"


class Formulation(StrEnum):
    HYDROXOCOBALAMIN = "hydroxocobalamin"
    CYANOCOBALAMIN = "cyanocobalamin"
    METHYLCOBALAMIN = "methylcobalamin"


class Route(StrEnum):
    IM = "IM"
    SC = "SC"
    ORAL = "oral"
    IV = "IV"


class Stage(StrEnum):
    REPLETION = "repletion"
    MAINTENANCE = "maintenance"


class Status(StrEnum):
    DEFICIENT = "deficient"
    INDETERMINATE = "indeterminate"
    UNLIKELY = "unlikely"
    UNINTERPRETABLE = "uninterpretable"
    INSUFFICIENT_DATA = "insufficient_data"


class EventKind(StrEnum):
    INJECTION = "injection"
    ORAL = "oral"
    TEST = "test"
    REVIEW = "review"


class AlertLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
