-- Weight sharing against random search on down-scaled and best-subset sub-spaces (Zhang, Zhang,
-- Yang 2020, Figures 2 and 5). Per super-net trained on a derived sub-space (random/... or
-- best/...; `wsdb spaces define`), at its newest scored checkpoint, per evaluation protocol: the best
-- ground truth among the k architectures its proxy ranks best (WS top-k), the expected best
-- ground truth of k architectures drawn uniformly without replacement from the same sub-space
-- (RS top-k, exact: the sum over ascending ranks i of v_i C(i-1, k-1) / C(n, k)), and Kendall's
-- tau-b and Spearman's rho (the statistic of their figures) between proxy (mean over repeated
-- evaluations) and ground truth.
--
-- uses: newest_scores
-- parameters:
--   k = 10                              architectures selected by the proxy and drawn at random
--   truth = 'validation_accuracy'       ground truth: validation_accuracy or test_accuracy
--   dataset = NULL                      ground-truth dataset; NULL: the search space's own (wsdb summary lists them)
--   epoch_budget = NULL                 ground-truth epoch budget; NULL: the search space's own
--   benchmark = NULL                    ground-truth benchmark; NULL: the search space's own
-- columns:
--   family             the derived sub-space without its k and seed: random/<parent>, random-cells/<parent>,
--                      best/<parent>/<benchmark>/<dataset>/<metric>
--   down_scale         its k: the sub-space holds 1/k of its parent
--   subspace           the sub-space
--   supernet_id        super-net trained on it
--   supernet_name      its name
--   checkpoint_label   its newest checkpoint scored under the protocol
--   protocol_id        evaluation protocol
--   members_ranked     members of the sub-space with ground truth
--   scored             of them, scored by the checkpoint
--   ws_top_k           best ground truth among the k best by proxy
--   rs_top_k           expected best ground truth of k uniform draws from the members
--   kendall            Kendall's tau-b between proxy and ground truth (NULL when the proxy is constant)
--   spearman           Spearman's rho between them (NULL when the proxy is constant)
WITH derived AS (
    SELECT search_space, name AS subspace,
           CAST(json_extract_string(parameters_json, '$.k') AS INTEGER) AS down_scale,
           CASE WHEN kind IN ('random', 'random-cells') THEN regexp_replace(name, '/[0-9]+/[0-9]+$', '')
                ELSE regexp_replace(name, '/[0-9]+(/[^/]+/[^/]+/[^/]+)$', '\1') END AS family
    FROM subspaces WHERE kind IN ('random', 'random-cells', 'best')
),
runs AS (
    SELECT n.id AS supernet_id, n.name AS supernet_name, d.*
    FROM supernets n JOIN derived d ON d.search_space = n.search_space AND d.subspace = n.subspace
),
truth AS (
    SELECT t.architecture_id,
           CASE WHEN $truth = 'test_accuracy' THEN t.test_accuracy ELSE t.validation_accuracy END AS value
    FROM ground_truth_final t JOIN search_spaces sp ON sp.name = t.search_space
    WHERE t.benchmark = COALESCE($benchmark, sp.default_benchmark) AND t.dataset = COALESCE($dataset, sp.default_dataset)
      AND t.epoch_budget = COALESCE($epoch_budget, sp.default_epoch_budget)
),
members AS (
    SELECT r.supernet_id, m.architecture_id, t.value,
           ROW_NUMBER() OVER (PARTITION BY r.supernet_id ORDER BY t.value) AS i,
           COUNT(*) OVER (PARTITION BY r.supernet_id) AS n
    FROM runs r
    JOIN architecture_subspaces m ON m.search_space = r.search_space AND m.subspace = r.subspace
    JOIN truth t ON t.architecture_id = m.architecture_id
    WHERE t.value IS NOT NULL
),
random_search AS (  -- k drawn from n: P(the i-th smallest is the best drawn) = C(i-1, k-1) / C(n, k)
    SELECT supernet_id, MAX(n) AS members_ranked,
           SUM(CASE WHEN i >= kk THEN value * exp(lgamma(i) - lgamma(kk) - lgamma(i - kk + 1)
                                                  - lgamma(n + 1) + lgamma(kk + 1) + lgamma(n - kk + 1)) END) AS rs_top_k
    FROM (SELECT *, LEAST($k, n) AS kk FROM members) GROUP BY supernet_id
),
scored AS (
    SELECT w.supernet_id, w.checkpoint_label, w.protocol_id, w.architecture_id, w.proxy, m.value AS truth
    FROM newest_scores w
    JOIN members m ON m.supernet_id = w.supernet_id AND m.architecture_id = w.architecture_id
),
per_run AS (
    SELECT supernet_id, protocol_id, ANY_VALUE(checkpoint_label) AS checkpoint_label, COUNT(*) AS scored,
           MAX(CASE WHEN position <= $k THEN truth END) AS ws_top_k,
           MIN(proxy) = MAX(proxy) AS proxy_is_constant,
           kendall_tau_b(LIST(proxy ORDER BY architecture_id), LIST(truth ORDER BY architecture_id)) AS kendall,
           spearman_rho(LIST(proxy ORDER BY architecture_id), LIST(truth ORDER BY architecture_id)) AS spearman
    FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY supernet_id, protocol_id ORDER BY proxy DESC, architecture_id)
                    AS position FROM scored)
    GROUP BY supernet_id, protocol_id
)
SELECT r.family, r.down_scale, r.subspace, r.supernet_id, r.supernet_name, p.checkpoint_label, p.protocol_id,
       s.members_ranked, p.scored, p.ws_top_k, s.rs_top_k,
       CASE WHEN p.proxy_is_constant THEN NULL ELSE p.kendall END AS kendall,
       CASE WHEN p.proxy_is_constant THEN NULL ELSE p.spearman END AS spearman
FROM per_run p
JOIN runs r ON r.supernet_id = p.supernet_id
JOIN random_search s ON s.supernet_id = p.supernet_id
ORDER BY r.family, r.down_scale, r.supernet_name, p.protocol_id
