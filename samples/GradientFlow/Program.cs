using ResidualNet.Samples;
using ResidualNet.Samples.GradientFlow;

return SampleRunner.Run(token => GradientFlowSample.Run(args, SampleConsole.System, token));
