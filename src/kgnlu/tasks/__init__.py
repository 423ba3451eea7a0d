"""Tasks that join the symbolic KG (``kgnlu.kg``) and the neural side (``kgnlu.neural``)."""
