"""Builders of the embedded default medical KG from packaged data (``build``), and its registry.

``SOURCES`` is what ``kgnlu kg init`` builds, in order, and what its help lists; each name is a
module here and the source's name in the KG. Import-light on purpose: the CLI reads it for its help.
"""

SOURCES = {
    "hpo": "Human Phenotype Ontology",
    "mondo": "MONDO diseases",
    "hpoa": "HPO disease-phenotype annotations",
    "drugs": "drug names and ids",
    "opposites": "HPO phenotypes of opposite qualities, as disjointness",
    "wordnet": "WordNet 3.0, general English",
}
# Sources the default KG is built without when their data is not on the machine (a Debian package).
OPTIONAL = {"wordnet": "when Debian's wordnet-base is installed"}
