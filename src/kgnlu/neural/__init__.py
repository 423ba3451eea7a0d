"""Neural components (torch only; never imports rdflib or owlready2)."""

import warnings

# peft reads transformers 5's deprecated ``is_gradient_checkpointing`` on every adapter load; the
# FutureWarning it raises is about those two libraries, and users of kgnlu can do nothing about it.
warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)
