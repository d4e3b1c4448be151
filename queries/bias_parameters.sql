-- Parameter-count bias (../seeds/000, ../seeds/003): per super-net, Spearman's rho of the
-- proxy with the architectures' trainable parameters, next to the same for the ground truth.
-- A proxy that follows the parameter count more than the truth does favours big networks.
-- Uses each super-net's newest checkpoint; proxy = mean over repeated evaluations.
--
-- uses: newest_scores
-- parameters:
--   dataset = 'cifar10'                 ground-truth dataset
--   epoch_budget = 108                  ground-truth epoch budget
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
JOIN ground_truth_mean t ON t.architecture_id = s.architecture_id AND t.evaluation_point = 'final'
     AND t.dataset = $dataset AND t.epoch_budget = $epoch_budget
     AND t.benchmark = COALESCE($benchmark, CASE a.search_space WHEN 'nb101' THEN 'nasbench101' WHEN 'nb201' THEN 'nasbench201' WHEN 'ws64' THEN 'ws64-paper' END)
JOIN supernets n ON n.id = s.supernet_id
GROUP BY n.name, s.protocol_id
ORDER BY n.name, s.protocol_id
