-- Each super-net's newest scored checkpoint per evaluation protocol and its score for each
-- architecture there: the mean over repeated evaluations. "Newest scored" is one rule for every
-- analysis that takes one checkpoint of a super-net: among its checkpoints holding scores of the
-- metric under the protocol, epoch checkpoints first (highest epoch, then step), then file-less
-- step checkpoints (evaluate_last_steps, published trajectories; highest step), then the newest
-- row. A checkpoint without scores never hides an older one that has them. The base of the
-- stability, bias and sub-space analyses.
--
-- parameters:
--   metric = 'validation_accuracy'      proxy metric
--   protocol = NULL                     only this evaluation protocol; NULL: each separately
--   supernet = NULL                     only this super-net (id or name); NULL: all
-- columns:
--   supernet_id        super-net
--   checkpoint_id      its newest checkpoint scored under the protocol
--   checkpoint_label   that checkpoint's label
--   protocol_id        evaluation protocol
--   architecture_id    architecture
--   proxy              mean score over repeated evaluations
--   evaluations        how many evaluations were averaged
WITH scored AS (
    SELECT p.checkpoint_id, p.protocol_id, p.architecture_id, AVG(p.value) AS proxy, COUNT(*) AS evaluations
    FROM proxy_scores p
    WHERE p.metric = $metric AND p.value IS NOT NULL AND ($protocol IS NULL OR p.protocol_id = $protocol)
      AND ($supernet IS NULL OR p.checkpoint_id IN (SELECT id FROM checkpoints WHERE supernet_id = $supernet))
    GROUP BY p.checkpoint_id, p.protocol_id, p.architecture_id
),
newest AS (
    SELECT supernet_id, checkpoint_id, label, protocol_id
    FROM (SELECT k.supernet_id, k.id AS checkpoint_id, k.label, s.protocol_id,
                 ROW_NUMBER() OVER (PARTITION BY k.supernet_id, s.protocol_id
                                    ORDER BY k.epoch DESC NULLS LAST, k.step DESC NULLS LAST, k.created_at DESC,
                                             k.id) AS r
          FROM checkpoints k JOIN (SELECT DISTINCT checkpoint_id, protocol_id FROM scored) s ON s.checkpoint_id = k.id)
    WHERE r = 1
)
SELECT n.supernet_id, n.checkpoint_id, n.label AS checkpoint_label, s.protocol_id, s.architecture_id, s.proxy,
       s.evaluations
FROM scored s JOIN newest n ON n.checkpoint_id = s.checkpoint_id AND n.protocol_id = s.protocol_id
