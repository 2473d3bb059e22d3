/* fraud_stream.c - placeholder until the stream and replay subcommands land. */
#include "fraud_cli.h"

int cli_fraud_stream(struct cli_env *env, const struct cli_fraud_opts *o)
{
    (void)o;
    return cli_usage_error(env, "stream: not built yet");
}

int cli_fraud_replay(struct cli_env *env, const struct cli_fraud_opts *o)
{
    (void)o;
    return cli_usage_error(env, "replay: not built yet");
}
