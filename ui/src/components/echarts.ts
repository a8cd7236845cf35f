// ECharts, only the parts the charts draw with (the dashboard takings and the daily close): bar,
// line, grid, legend, tooltip, canvas. Shared so both routes load one chunk.
import * as echarts from 'echarts/core'
import { BarChart, LineChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer])

export { echarts }
