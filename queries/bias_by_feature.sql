-- Bias of a super-net (Pourchot et al. 2020; Zhang, Zhang, Yang 2020): its architectures grouped by an
-- architectural feature, comparing where the proxy puts each group with where the ground
-- truth puts it. Percentiles are within the super-net's scored architectures (100 = best);
-- over_evaluation > 0 means the proxy ranks the group higher than its stand-alone accuracy
-- does (Pourchot et al. 2020 find this for the input->output edge). Uses each super-net's newest
-- checkpoint (newest_scores); proxy = mean over repeated evaluations.
--
-- uses: newest_scores
-- parameters:
--   feature = 'has_input_output_edge'   has_input_output_edge, num_output_inputs, num_vertices, num_edges, depth,
--                                       num_conv3x3, num_conv1x1, num_maxpool3x3, first_vertex_op, parameter_quintile
--   dataset = NULL                      ground-truth dataset; NULL: the search space's own (wsdb summary lists them)
--   epoch_budget = NULL                 ground-truth epoch budget; NULL: the search space's own
--   benchmark = NULL                    ground-truth benchmark; NULL: the search space's own
-- columns:
--   supernet_name       super-net
--   protocol_id         evaluation protocol
--   feature_value       the group
--   architectures       architectures in the group
--   mean_proxy          mean proxy score
--   mean_truth          mean ground-truth validation accuracy
--   proxy_percentile    mean percentile of the group under the proxy
--   truth_percentile    mean percentile of the group under the ground truth
--   over_evaluation     proxy_percentile - truth_percentile
WITH joined AS (
    SELECT s.*, t.validation_accuracy AS truth,
           CASE $feature
               WHEN 'has_input_output_edge' THEN CAST(a.has_input_output_edge AS VARCHAR)
               WHEN 'num_output_inputs' THEN CAST(a.num_output_inputs AS VARCHAR)
               WHEN 'num_vertices' THEN CAST(a.num_vertices AS VARCHAR)
               WHEN 'num_edges' THEN CAST(a.num_edges AS VARCHAR)
               WHEN 'depth' THEN CAST(a.depth AS VARCHAR)
               WHEN 'num_conv3x3' THEN CAST(a.num_conv3x3 AS VARCHAR)
               WHEN 'num_conv1x1' THEN CAST(a.num_conv1x1 AS VARCHAR)
               WHEN 'num_maxpool3x3' THEN CAST(a.num_maxpool3x3 AS VARCHAR)
               -- the op of the first vertex after the input, in the canonical order
               WHEN 'first_vertex_op' THEN SPLIT_PART(SPLIT_PART(a.canonical_encoding, ';', 2), ',', 2)
               WHEN 'parameter_quintile' THEN
                   'Q' || CAST(NTILE(5) OVER (PARTITION BY s.supernet_id, s.protocol_id ORDER BY a.trainable_parameters) AS VARCHAR)
           END AS feature_value
    FROM newest_scores s
    JOIN architectures a ON a.id = s.architecture_id
    JOIN search_spaces sp ON sp.name = a.search_space
    JOIN ground_truth_final t ON t.architecture_id = s.architecture_id
         AND t.benchmark = COALESCE($benchmark, sp.default_benchmark) AND t.dataset = COALESCE($dataset, sp.default_dataset)
         AND t.epoch_budget = COALESCE($epoch_budget, sp.default_epoch_budget)
),
ranked AS (
    SELECT *,
           100.0 * PERCENT_RANK() OVER (PARTITION BY supernet_id, protocol_id ORDER BY proxy) AS proxy_percentile,
           100.0 * PERCENT_RANK() OVER (PARTITION BY supernet_id, protocol_id ORDER BY truth) AS truth_percentile
    FROM joined
)
SELECT n.name AS supernet_name, r.protocol_id, r.feature_value, COUNT(*) AS architectures,
       AVG(r.proxy) AS mean_proxy, AVG(r.truth) AS mean_truth,
       AVG(r.proxy_percentile) AS proxy_percentile, AVG(r.truth_percentile) AS truth_percentile,
       AVG(r.proxy_percentile) - AVG(r.truth_percentile) AS over_evaluation
FROM ranked r JOIN supernets n ON n.id = r.supernet_id
GROUP BY n.name, r.protocol_id, r.feature_value
ORDER BY n.name, r.protocol_id, r.feature_value
