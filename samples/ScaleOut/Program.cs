using ResidualNet.Samples;
using ResidualNet.Samples.ScaleOut;

return SampleRunner.Run(token => ScaleOutSample.Run(args, SampleConsole.System, token));
