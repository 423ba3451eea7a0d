"""Neural components (torch only; never imports rdflib or owlready2)."""
