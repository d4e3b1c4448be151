-- S-Tau (Zhang et al. 2020, Deeper Insights, Table 1): the mean pairwise Kendall's tau between the rankings of
-- super-nets of one configuration (same search space, sub-space and training configuration),
-- each at its newest scored checkpoint, over the architectures both scored (mean over repeated
-- evaluations), with the largest and smallest pairwise tau (Max Tau, Min Tau). Pairs are grouped
-- by which of their seeds differ (`varied_seeds`), as the paper's experiments vary one at a time:
-- init ("Different seeds"), sampling ("Different orders", with a fixed or fixed-shuffled
-- sampling order), data; runs with one --seed vary all three. A pair sharing fewer than `min_common` architectures says nothing
-- about stability and is left out (counted in pairs_left_out; s_tau is NULL when no pair is
-- left); the paper compares all 64 architectures of its space.
--
-- uses: newest_scores
-- parameters:
--   min_common = 10                     fewest common architectures a pair needs to count
-- columns:
--   search_space        search space
--   subspace            sub-space
--   training_variant    config variant or sampler
--   varied_seeds        the seeds that differ within the pairs: init, sampling, data (comma separated); none
--   protocol_id         evaluation protocol
--   supernets           super-nets of the configuration with scores
--   pairs               pairs of super-nets compared
--   pairs_left_out      pairs with fewer than min_common common architectures
--   s_tau               mean pairwise Kendall's tau over the pairs compared
--   s_tau_std           population standard deviation over those pairs
--   s_tau_min           smallest pairwise tau
--   s_tau_max           largest pairwise tau
--   min_common_architectures   fewest architectures a compared pair shares
WITH seeds AS (  -- run_seeds where recorded, else the one seed that drove all three
    SELECT n.id, COALESCE(r.init_seed, n.seed) AS init, COALESCE(r.sampling_seed, n.seed) AS sampling,
           COALESCE(r.data_seed, n.seed) AS data
    FROM supernets n LEFT JOIN run_seeds r ON r.supernet_id = n.id
),
pairs AS (
    SELECT a.supernet_id AS first, b.supernet_id AS second, a.protocol_id,
           COALESCE(NULLIF(CONCAT_WS(',', CASE WHEN s1.init IS DISTINCT FROM s2.init THEN 'init' END,
                                          CASE WHEN s1.sampling IS DISTINCT FROM s2.sampling THEN 'sampling' END,
                                          CASE WHEN s1.data IS DISTINCT FROM s2.data THEN 'data' END), ''), 'none')
             AS varied_seeds,
           COUNT(*) AS common,
           kendall_tau_b(LIST(a.proxy ORDER BY a.architecture_id), LIST(b.proxy ORDER BY a.architecture_id)) AS tau
    FROM newest_scores a
    JOIN newest_scores b ON b.architecture_id = a.architecture_id AND b.protocol_id = a.protocol_id AND a.supernet_id < b.supernet_id
    JOIN supernets n1 ON n1.id = a.supernet_id
    JOIN supernets n2 ON n2.id = b.supernet_id
    JOIN seeds s1 ON s1.id = a.supernet_id
    JOIN seeds s2 ON s2.id = b.supernet_id
    WHERE n1.search_space = n2.search_space AND n1.subspace IS NOT DISTINCT FROM n2.subspace
      AND n1.config_json = n2.config_json
    GROUP BY ALL
)
SELECT s.search_space, s.subspace,
       COALESCE(json_extract_string(s.config_json, '$.variant'), json_extract_string(s.config_json, '$.sampler'), 'custom')
         AS training_variant,
       p.varied_seeds, p.protocol_id,
       LEN(LIST_DISTINCT(FLATTEN(LIST([p.first, p.second])))) AS supernets,
       COUNT(*) FILTER (WHERE p.common >= $min_common) AS pairs,
       COUNT(*) FILTER (WHERE p.common < $min_common) AS pairs_left_out,
       AVG(p.tau) FILTER (WHERE p.common >= $min_common) AS s_tau,
       STDDEV_POP(p.tau) FILTER (WHERE p.common >= $min_common) AS s_tau_std,
       MIN(p.tau) FILTER (WHERE p.common >= $min_common) AS s_tau_min,
       MAX(p.tau) FILTER (WHERE p.common >= $min_common) AS s_tau_max,
       MIN(p.common) FILTER (WHERE p.common >= $min_common) AS min_common_architectures
FROM pairs p JOIN supernets s ON s.id = p.first
GROUP BY s.search_space, s.subspace, s.config_json, p.varied_seeds, p.protocol_id
ORDER BY s.search_space, s.subspace, training_variant, p.varied_seeds, p.protocol_id
