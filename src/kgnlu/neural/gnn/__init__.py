"""Graph layers over KG subgraphs, one per file (PyG style): ``RGCNConv``, ``PairReadout``, ``RGCNEncoder``.

Plain torch: nothing here needs torch-scatter, torch-sparse or torch_geometric itself.
"""
