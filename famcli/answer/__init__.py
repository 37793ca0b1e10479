"""The answer path for a reader's question (docs/answers.md): `find` the passages that may hold the answer
(BM25 over folded, stemmed text, then re-ranked by the model's likelihood of the question given each passage),
`read` them (candidates of the kind the question asks for, chosen by the model's likelihoods; or the model's
own short answer), `check` that a sentence of the evidence says it about the question's subject.
"""
