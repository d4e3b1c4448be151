-- Parameter-count bias (Pourchot et al. 2020; Zhang, Zhang, Yang 2020): per super-net, Spearman's rho of the
-- proxy with the architectures' trainable parameters, next to the same for the ground truth.
-- A proxy that follows the parameter count more than the truth does favours big networks.
-- Uses each super-net's newest checkpoint; proxy = mean over repeated evaluations.
--
-- uses: newest_scores
-- parameters:
--   dataset = NULL                      ground-truth dataset; NULL: the search space's own (wsdb summary lists them)
--   epoch_budget = NULL                 ground-truth epoch budget; NULL: the search space's own
--   benchmark = NULL                    ground-truth benchmark; NULL: the search space's own
-- columns:
--   supernet_name            super-net
--   protocol_id              evaluation protocol
--   architectures            architectures with proxy, truth and parameter count
--   proxy_vs_parameters      Spearman's rho(proxy, trainable parameters)
--   truth_vs_parameters      Spearman's rho(ground truth, trainable parameters)
--   proxy_vs_truth           Spearman's rho(proxy, ground truth)
SELECT n.name AS supernet_name, s.protocol_id, COUNT(*) AS architectures,
       spearman_rho(LIST(s.proxy ORDER BY s.architecture_id), LIST(a.trainable_parameters::DOUBLE ORDER BY s.architecture_id))
         AS proxy_vs_parameters,
       spearman_rho(LIST(t.validation_accuracy ORDER BY s.architecture_id), LIST(a.trainable_parameters::DOUBLE ORDER BY s.architecture_id))
         AS truth_vs_parameters,
       spearman_rho(LIST(s.proxy ORDER BY s.architecture_id), LIST(t.validation_accuracy ORDER BY s.architecture_id))
         AS proxy_vs_truth
FROM newest_scores s
JOIN architectures a ON a.id = s.architecture_id AND a.trainable_parameters IS NOT NULL
JOIN search_spaces sp ON sp.name = a.search_space
JOIN ground_truth_final t ON t.architecture_id = s.architecture_id
     AND t.benchmark = COALESCE($benchmark, sp.default_benchmark) AND t.dataset = COALESCE($dataset, sp.default_dataset)
     AND t.epoch_budget = COALESCE($epoch_budget, sp.default_epoch_budget)
JOIN supernets n ON n.id = s.supernet_id
GROUP BY n.name, s.protocol_id
ORDER BY n.name, s.protocol_id
