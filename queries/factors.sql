-- One row per super-net and evaluation protocol, with what the factor studies compare (Yu et al.
-- 2020, "How to Train Your Super-Net", Tables 3 and 4; Zhang et al. 2020, Deeper Insights,
-- Table 3): the super-net accuracy (mean proxy accuracy), Kendall's tau and sparse Kendall's
-- tau at its newest scored checkpoint, the final search performance with P>R, and, for runs
-- scored after each of their last steps
-- (evaluate_last_steps), GT-Tau-Mean and GT-Tau-Std over those steps. The configuration is
-- there to group by (`wsdb report factors` finds the keys that differ).
-- Yu et al.'s protocol: score one seeded sample of 200 architectures with every super-net
-- (`evaluate: {n: 200, seed: S}` in a sweep gives them all the same one; --param sample= names
-- it when more were scored); the final search performance is the mean ground truth of the 3
-- of them the super-net ranks best (k), and s-KdT is computed on the same architectures.
--
-- uses: correlation, top_k
-- parameters:
--   k = 3                               the final search performance is the mean ground truth of the top k
--   sweep = NULL                        only super-nets of this sweep (named <sweep>/...); NULL: all
-- columns:
--   supernet_id            super-net
--   supernet_name          its name
--   search_space           search space
--   seed                   its seed
--   configuration          its training configuration (JSON)
--   protocol_id            evaluation protocol
--   checkpoint_label       the newest checkpoint scored under the protocol (epoch checkpoints first)
--   architectures          architectures scored there with ground truth
--   supernet_accuracy      mean proxy accuracy there
--   kendall                Kendall's tau-b there
--   sparse_kendall         sparse Kendall's tau there
--   top_k                  the k of final_accuracy
--   final_accuracy         mean ground truth of the k the checkpoint ranks best (Yu et al. 2020's final searched model)
--   probability_to_surpass_random   P>R of the best of those k (Yu et al. 2020; top_k's runs and population)
--   steps_scored           file-less step checkpoints scored under the protocol (evaluate_last_steps)
--   gt_tau_mean            mean Kendall's tau over those steps (GT-Tau-Mean-k); NULL without them
--   gt_tau_std             population standard deviation of those taus (GT-Tau-Std-k)
WITH newest AS (
    SELECT c.*,
           ROW_NUMBER() OVER (PARTITION BY c.supernet_id, c.protocol_id
                              ORDER BY k.epoch DESC NULLS LAST, k.step DESC NULLS LAST, k.created_at DESC) AS position
    FROM correlation c JOIN checkpoints k ON k.id = c.checkpoint_id
),
steps AS (
    SELECT c.supernet_id, c.protocol_id, COUNT(*) AS steps_scored, AVG(c.kendall) AS gt_tau_mean,
           STDDEV_POP(c.kendall) AS gt_tau_std
    FROM correlation c JOIN checkpoints k ON k.id = c.checkpoint_id
    WHERE k.uri IS NULL AND k.label LIKE 'step-%'
    GROUP BY c.supernet_id, c.protocol_id
),
accuracy AS (
    SELECT checkpoint_id, protocol_id, AVG(value) AS supernet_accuracy
    FROM proxy_scores WHERE metric = 'validation_accuracy'
    GROUP BY checkpoint_id, protocol_id
)
SELECT n.id AS supernet_id, n.name AS supernet_name, n.search_space, n.seed, n.config_json AS configuration,
       c.protocol_id, c.checkpoint_label, c.n AS architectures, a.supernet_accuracy, c.kendall, c.sparse_kendall,
       $k AS top_k, t.mean_truth_top_k AS final_accuracy, t.probability_to_surpass_random,
       COALESCE(s.steps_scored, 0) AS steps_scored, s.gt_tau_mean, s.gt_tau_std
FROM newest c
JOIN supernets n ON n.id = c.supernet_id
LEFT JOIN accuracy a ON a.checkpoint_id = c.checkpoint_id AND a.protocol_id = c.protocol_id
LEFT JOIN top_k t ON t.supernet_id = c.supernet_id AND t.checkpoint_label = c.checkpoint_label
                 AND t.protocol_id = c.protocol_id
LEFT JOIN steps s ON s.supernet_id = c.supernet_id AND s.protocol_id = c.protocol_id
WHERE c.position = 1 AND n.config_json IS NOT NULL AND ($sweep IS NULL OR n.name LIKE $sweep || '/%')
ORDER BY n.name, c.protocol_id
