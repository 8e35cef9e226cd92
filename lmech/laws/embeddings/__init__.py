"""Word embeddings from corpus statistics: closed-form word2vec (QWEM), SGNS, analogies, months on a circle."""
