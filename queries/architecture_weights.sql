-- Architecture weights of differentiable super-nets over training (Li, Khodak, Balcan,
-- Talwalkar 2021: the entropy and sparsity of theta, their Figure 4; DARTS' collapse to
-- parameter-free operations on NAS-Bench-201). Per super-net and checkpoint: the mean entropy
-- of theta over edges (normalised: 1 = uniform, 0 = one-hot), the share of edges whose largest
-- weight reaches `sparse_at`, the derived architecture (highest weight per edge) and the share of
-- its edges holding a parameter-free operation (nb201: none, skip_connect, avg_pool_3x3; ws64:
-- max_pool_3x3; darts: max and average pooling, skip_connect, of the 16 edges of both cells), counted
-- on its class's canonical cell; for NAS-Bench-1Shot1's one-shot model (nb101) the share of the derived
-- cell's intermediate vertices that max-pool. On 1Shot1 every simplex counts as an edge: the
-- operation of each vertex and each parent decision (operations `parent-u`).
--
-- parameters:
--   supernet = NULL                     only this super-net (id or name); NULL: every one with architecture weights
--   sparse_at = 0.9                     an edge is sparse when its largest weight reaches this
-- columns:
--   supernet_id            super-net
--   supernet_name          its name
--   method                 darts, gdas, pc-darts (gaea- prefixed: exponentiated update)
--   checkpoint_label       checkpoint
--   epoch                  its epoch
--   edges                  edges of the cell (simplices of theta)
--   entropy                mean normalised entropy of theta per edge
--   sparse_edges           share of edges whose largest weight reaches sparse_at
--   derived_architecture   canonical encoding of the derived architecture
--   parameter_free_share   share of its edges with a parameter-free operation
WITH per_edge AS (
    SELECT checkpoint_id, edge,
           -SUM(CASE WHEN weight > 0 THEN weight * LN(weight) ELSE 0 END) / LN(COUNT(*)) AS entropy,
           MAX(weight) AS largest
    FROM architecture_weights GROUP BY checkpoint_id, edge
),
per_checkpoint AS (
    SELECT checkpoint_id, COUNT(*) AS edges, AVG(entropy) AS entropy,
           AVG(CASE WHEN largest >= $sparse_at THEN 1.0 ELSE 0.0 END) AS sparse_edges
    FROM per_edge GROUP BY checkpoint_id
)
SELECT c.supernet_id, s.name AS supernet_name, d.method, c.label AS checkpoint_label, c.epoch, p.edges, p.entropy,
       p.sparse_edges, a.canonical_encoding AS derived_architecture,
       CASE a.search_space
            WHEN 'nb201' THEN (COALESCE(a.num_none, 0) + COALESCE(a.num_skip, 0) + COALESCE(a.num_avgpool3x3, 0)) / 6.0
            WHEN 'darts' THEN (COALESCE(a.num_maxpool3x3, 0) + COALESCE(a.num_avgpool3x3, 0) + COALESCE(a.num_skip, 0))
                              / a.num_edges
            WHEN 'nb101' THEN COALESCE(a.num_maxpool3x3, 0) / NULLIF(a.num_vertices - 2, 0)
            ELSE COALESCE(a.num_maxpool3x3, 0) / 3.0 END AS parameter_free_share
FROM per_checkpoint p
JOIN checkpoints c ON c.id = p.checkpoint_id
JOIN supernets s ON s.id = c.supernet_id
JOIN derived_architectures d ON d.checkpoint_id = c.id
JOIN architectures a ON a.id = d.architecture_id
WHERE $supernet IS NULL OR c.supernet_id = $supernet
ORDER BY s.name, c.epoch, c.label
