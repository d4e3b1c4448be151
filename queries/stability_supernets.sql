-- S-Tau (Zhang et al. 2020, Deeper Insights): the mean pairwise Kendall's tau between the rankings of super-nets of
-- one configuration (same search space, sub-space and training configuration; different
-- seeds), each at its newest scored checkpoint, over the architectures both scored (mean over
-- repeated evaluations). A pair sharing fewer than `min_common` architectures says nothing
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
--   protocol_id         evaluation protocol
--   supernets           super-nets of the configuration with scores
--   pairs               pairs of super-nets compared
--   pairs_left_out      pairs with fewer than min_common common architectures
--   s_tau               mean pairwise Kendall's tau over the pairs compared
--   s_tau_std           population standard deviation over those pairs
--   s_tau_min           smallest pairwise tau
--   s_tau_max           largest pairwise tau
--   min_common_architectures   fewest architectures a compared pair shares
WITH pairs AS (
    SELECT a.supernet_id AS first, b.supernet_id AS second, a.protocol_id,
           COUNT(*) AS common,
           kendall_tau_b(LIST(a.proxy ORDER BY a.architecture_id), LIST(b.proxy ORDER BY a.architecture_id)) AS tau
    FROM newest_scores a
    JOIN newest_scores b ON b.architecture_id = a.architecture_id AND b.protocol_id = a.protocol_id AND a.supernet_id < b.supernet_id
    JOIN supernets s1 ON s1.id = a.supernet_id
    JOIN supernets s2 ON s2.id = b.supernet_id
    WHERE s1.search_space = s2.search_space AND s1.subspace IS NOT DISTINCT FROM s2.subspace
      AND s1.config_json = s2.config_json
    GROUP BY a.supernet_id, b.supernet_id, a.protocol_id
)
SELECT s.search_space, s.subspace,
       COALESCE(json_extract_string(s.config_json, '$.variant'), json_extract_string(s.config_json, '$.sampler'), 'custom')
         AS training_variant,
       p.protocol_id,
       LEN(LIST_DISTINCT(FLATTEN(LIST([p.first, p.second])))) AS supernets,
       COUNT(*) FILTER (WHERE p.common >= $min_common) AS pairs,
       COUNT(*) FILTER (WHERE p.common < $min_common) AS pairs_left_out,
       AVG(p.tau) FILTER (WHERE p.common >= $min_common) AS s_tau,
       STDDEV_POP(p.tau) FILTER (WHERE p.common >= $min_common) AS s_tau_std,
       MIN(p.tau) FILTER (WHERE p.common >= $min_common) AS s_tau_min,
       MAX(p.tau) FILTER (WHERE p.common >= $min_common) AS s_tau_max,
       MIN(p.common) FILTER (WHERE p.common >= $min_common) AS min_common_architectures
FROM pairs p JOIN supernets s ON s.id = p.first
GROUP BY s.search_space, s.subspace, s.config_json, p.protocol_id
ORDER BY s.search_space, s.subspace, training_variant, p.protocol_id
