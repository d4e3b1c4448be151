-- Each super-net's newest checkpoint (by step, then epoch, then creation time) and its score
-- for each architecture under each protocol: the mean over repeated evaluations. The base of
-- the stability and bias analyses.
--
-- parameters:
--   metric = 'validation_accuracy'      proxy metric
--   protocol = NULL                     only this evaluation protocol; NULL: each separately
-- columns:
--   supernet_id        super-net
--   checkpoint_id      its newest checkpoint
--   protocol_id        evaluation protocol
--   architecture_id    architecture
--   proxy              mean score over repeated evaluations
--   evaluations        how many evaluations were averaged
WITH newest AS (
    SELECT id, supernet_id
    FROM (SELECT k.*, ROW_NUMBER() OVER (PARTITION BY k.supernet_id
                                         ORDER BY k.step DESC NULLS LAST, k.epoch DESC NULLS LAST, k.created_at DESC) AS r
          FROM checkpoints k)
    WHERE r = 1
)
SELECT n.supernet_id, n.id AS checkpoint_id, p.protocol_id, p.architecture_id,
       AVG(p.value) AS proxy, COUNT(*) AS evaluations
FROM proxy_scores p JOIN newest n ON n.id = p.checkpoint_id
WHERE p.metric = $metric AND ($protocol IS NULL OR p.protocol_id = $protocol)
GROUP BY n.supernet_id, n.id, p.protocol_id, p.architecture_id
