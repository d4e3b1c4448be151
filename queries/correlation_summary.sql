-- The rank correlations of the `correlation` analysis aggregated over the super-nets of one
-- configuration (same search space, sub-space, training configuration and evaluation
-- protocol; the seed is not part of the configuration): mean and 95% confidence interval.
-- Super-nets whose proxy is constant (diverged) are left out and counted. Both interval
-- conventions: the normal 1.96 x population sd / sqrt(n) of Pourchot et al. 2020 (their Table 1) and Student t.
--
-- uses: correlation
-- parameters:
--   checkpoint = 'last'                 which checkpoint of each super-net: 'last', or a label such as final or epoch-100
--   search_space = NULL                 only super-nets of this search space; NULL: all
-- columns:
--   search_space               search space
--   subspace                   sub-space
--   training_variant           config variant (Pourchot et al. 2020 names) or sampler
--   protocol_id                evaluation protocol
--   configuration              the training configuration (JSON)
--   supernets_kept             super-nets in the mean
--   supernets_left_out         super-nets left out because their proxy is constant
--   mean_spearman              mean Spearman's rho
--   spearman_ci95_normal       half width, 1.96 x population sd / sqrt(n)
--   spearman_ci95_student_t    half width, t(0.975, n-1) x sample sd / sqrt(n)
--   mean_kendall               mean Kendall's tau-b
--   kendall_ci95_normal        half width, as above
--   mean_sparse_kendall        mean sparse Kendall's tau
WITH chosen AS (
    SELECT c.*,
           ROW_NUMBER() OVER (PARTITION BY c.supernet_id, c.protocol_id
                              ORDER BY k.epoch DESC NULLS LAST, k.step DESC NULLS LAST, k.created_at DESC) AS newest
    FROM correlation c JOIN checkpoints k ON k.id = c.checkpoint_id
    WHERE $checkpoint = 'last' OR c.checkpoint_label = $checkpoint
)
SELECT s.search_space, c.subspace,
       COALESCE(json_extract_string(s.config_json, '$.variant'), json_extract_string(s.config_json, '$.sampler'), 'custom')
         AS training_variant,
       c.protocol_id, s.config_json AS configuration,
       COUNT(*) FILTER (WHERE NOT c.proxy_is_constant) AS supernets_kept,
       COUNT(*) FILTER (WHERE c.proxy_is_constant) AS supernets_left_out,
       AVG(c.spearman) AS mean_spearman,
       1.96 * STDDEV_POP(c.spearman) / SQRT(COUNT(c.spearman)) AS spearman_ci95_normal,
       student_t_quantile(0.975, COUNT(c.spearman) - 1) * STDDEV_SAMP(c.spearman) / SQRT(COUNT(c.spearman))
         AS spearman_ci95_student_t,
       AVG(c.kendall) AS mean_kendall,
       1.96 * STDDEV_POP(c.kendall) / SQRT(COUNT(c.kendall)) AS kendall_ci95_normal,
       AVG(c.sparse_kendall) AS mean_sparse_kendall
FROM chosen c JOIN supernets s ON s.id = c.supernet_id
WHERE ($checkpoint <> 'last' OR c.newest = 1) AND ($search_space IS NULL OR s.search_space = $search_space)
GROUP BY s.search_space, c.subspace, s.config_json, c.protocol_id
ORDER BY s.search_space, c.subspace, training_variant, c.protocol_id
